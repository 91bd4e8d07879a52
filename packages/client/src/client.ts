import { Metadata, type CallOptions as GrpcCallOptions, type ChannelOptions, type ClientUnaryCall, type Interceptor, type ServiceError } from "@grpc/grpc-js";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { bearerInterceptor, channelCredentials, tokenCache, type TlsOptions, type TokenSource } from "./credentials.js";
import { decodeError, DeniedError, denialReasonName, RpcError, type DenialReason } from "./errors.js";
import { uuidv7 } from "./keys.js";
import { openMeter, type Meter, type MeterOptions } from "./meter.js";
import { DEFAULT_RETRY, retrying, type RetryPolicy } from "./retry.js";
import { startRun, type Run, type RunOptions } from "./run.js";
import { openStreamMeter, type StreamMeter, type StreamMeterOptions } from "./stream.js";
import type { Usage } from "./usage.js";

export interface TollgateClientOptions {
  /** The ledger's address, e.g. `127.0.0.1:50053` or `ledger.internal:443`. */
  address: string;
  /** The bearer JWT (with the `meter` role): a token, or a function returning a fresh one. */
  credentials: TokenSource;
  /** TLS; by default on for any address but loopback, where plaintext is allowed. */
  tls?: TlsOptions;
  /** Each attempt's deadline unless a call says otherwise (5 s). */
  deadlineMs?: number;
  /** Retries of UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED (5 attempts, 50 ms doubling to 2 s, full jitter). */
  retry?: Partial<RetryPolicy>;
  /** Ask a token provider again this long before its token's `exp` (60 s). */
  refreshBeforeMs?: number;
  /** The person the calls act for (`x-tollgate-on-behalf-of`; honoured for `service` principals only). */
  onBehalfOf?: string;
  /** Extra client interceptors (tracing, logging), run after the credential's. */
  interceptors?: Interceptor[];
  channelOptions?: Partial<ChannelOptions>;
  /** Told of each retry, e.g. to log or count it (`method` is the RPC's name, e.g. "Charge"). */
  onRetry?: (error: RpcError, attempt: number, delayMs: number, method: string) => void;
}

export interface CallOptions {
  /** This attempt's deadline in ms (each retry gets a fresh one). */
  deadlineMs?: number;
  /** Cancels the call and any retry still to come. */
  signal?: AbortSignal;
  /** No retry starts after this many ms from the first attempt (default: 4 deadlines). */
  totalTimeoutMs?: number;
}

export type Attribution = Partial<commonV1.Attribution>;
export type RunContext = Partial<entitlementsV1.RunContext>;

export interface AuthorizeInput {
  accountId: string;
  estimate: Usage;
  attribution?: Attribution;
  /** How long the hold lives before the ledger returns it by itself (the ledger's default when unset). */
  ttlMs?: number;
  context?: RunContext;
  /** The kind of work ("guardrail", "custom_script"…): the plan's limits for it apply. */
  workKind?: WorkKind;
  /** Generated (UUIDv7) when unset; the answer says which was used. */
  idempotencyKey?: string;
}

/** The kinds of work a plan may set limits for (tollgate.common.v1.WorkKind). */
export type WorkKind = "model_reply" | "tool_run" | "guardrail" | "custom_script" | "model_hosting" | "fine_tuning" | "agent_run";

export function workKindOf(kind: WorkKind | undefined): commonV1.WorkKind {
  return kind ? commonV1.workKindFromJSON(`WORK_KIND_${kind.toUpperCase()}`) : commonV1.WorkKind.WORK_KIND_UNSPECIFIED;
}

export type Authorization =
  | {
      allowed: true;
      /** Undefined for unmetered work (own-key inference, self-hosted): charge it anyway, it is journaled at zero. */
      holdId: string | undefined;
      metered: boolean;
      amountMicros: bigint;
      availableMicros: bigint;
      expiresAt: Date | undefined;
      rateTableId: string;
      rateTableVersion: bigint;
      message: string;
      idempotencyKey: string;
    }
  | {
      allowed: false;
      reason: DenialReason;
      message: string;
      availableMicros: bigint;
      /** Nothing left, but the kind allows saving the work as a draft only (the plan's drafts_at_zero): offer that, never start it. */
      draftsOnly: boolean;
      idempotencyKey: string;
    };

export interface ChargeInput {
  accountId: string;
  /** The hold the usage is charged on; unset for a one-shot charge without one. */
  holdId?: string;
  usage: Usage;
  /** The last charge of the hold: what it reserved beyond the usage is released (default true). */
  final?: boolean;
  attribution?: Attribution;
  context?: RunContext;
  idempotencyKey?: string;
  /** The kind of work a one-shot charge is for: `proceed` follows the kind's negative limit (a charge on a hold takes the hold's kind). */
  workKind?: WorkKind;
  /**
   * When the usage happened, for usage reported late; unset: now. It counts in
   * the usage windows and cycle of that moment. Within the current or
   * previous cycle and no older than the ledger keeps idempotency keys;
   * a retry must send the same value.
   */
  occurredAt?: Date;
}

export interface ChargeResult {
  chargedMicros: bigint;
  /** Usage past the negative limit, recorded but not collected. */
  uncollectedMicros: bigint;
  balanceMicros: bigint;
  releasedMicros: bigint;
  /** False: stop the work, the next charge could collect nothing. */
  proceed: boolean;
  /** The hard budget that is why `proceed` is false (and why usage went uncollected), if one is. */
  budgetId: string | undefined;
  entryId: bigint;
  idempotencyKey: string;
}

export interface ReleaseInput {
  accountId: string;
  holdId: string;
  idempotencyKey?: string;
}

export interface ReleaseResult {
  releasedMicros: bigint;
  status: "OPEN" | "CHARGED" | "RELEASED" | "EXPIRED" | "UNSPECIFIED";
  idempotencyKey: string;
}

export interface ExtendHoldInput {
  accountId: string;
  holdId: string;
  /** What more the work is expected to use (absent: keep the amount). */
  estimate?: Usage;
  /** The hold expires this long from now, unless it already expires later (absent: keep the expiry). */
  ttlMs?: number;
  idempotencyKey?: string;
}

export type HoldExtension =
  | { allowed: true; amountMicros: bigint; expiresAt: Date | undefined; availableMicros: bigint; idempotencyKey: string }
  | { allowed: false; reason: DenialReason; message: string; amountMicros: bigint; availableMicros: bigint; idempotencyKey: string };

export interface UnitBalance {
  unit: string;
  balanceMicros: bigint;
  heldMicros: bigint;
  availableMicros: bigint;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

const micros = (value: string | undefined) => BigInt(value || "0");
/** The request forms of the optional attribution and run context. */
export const attributionOf = (value: Attribution | undefined) => (value ? commonV1.Attribution.fromPartial(value) : undefined);
export const contextOf = (value: RunContext | undefined) => (value ? entitlementsV1.RunContext.fromPartial(value) : undefined);
const DEFAULT_DEADLINE_MS = 5_000;
/** The RPC's name ("Charge") from the path grpc-js attaches to each generated method. */
const rpcName = (method: object) => ((method as { path?: string }).path ?? "").split("/").pop() || "unknown";

/**
 * Tollgate's ledger, for a service that meters work: one channel, a bearer
 * token on each call, a deadline on each attempt, and retries with the same
 * request (so the same idempotency key) on the codes worth retrying.
 */
export class TollgateClient {
  /** The generated client, for RPCs this class does not wrap; call it through `call` to get deadlines, retries and typed errors. */
  readonly ledger: ledgerV1.LedgerServiceClient;
  private readonly deadlineMs: number;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: TollgateClientOptions) {
    const token = tokenCache(options.credentials, options.refreshBeforeMs === undefined ? {} : { refreshBeforeMs: options.refreshBeforeMs });
    this.ledger = new ledgerV1.LedgerServiceClient(options.address, channelCredentials(options.address, options.tls), {
      "grpc.keepalive_time_ms": 30_000,
      ...options.channelOptions,
      interceptors: [bearerInterceptor(token, options.onBehalfOf), ...(options.interceptors ?? [])],
    });
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /**
   * One unary call with a deadline per attempt and retries; errors are typed
   * (`RpcError` and its subclasses). The request is sent as given on every
   * attempt: give a mutating call its idempotency key before calling.
   */
  call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, options: CallOptions = {}): Promise<Res> {
    const deadlineMs = options.deadlineMs ?? this.deadlineMs;
    const started = Date.now();
    return retrying(
      () =>
        new Promise<Res>((resolve, reject) => {
          if (options.signal?.aborted) return reject(options.signal.reason);
          const call = method.call(this.ledger, request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => {
            options.signal?.removeEventListener("abort", cancel);
            if (error) reject(decodeError(error));
            else resolve(response);
          });
          function cancel() {
            call.cancel();
          }
          options.signal?.addEventListener("abort", cancel, { once: true });
        }),
      {
        policy: this.retry,
        // Every RPC of the ledger is a read or carries an idempotency key.
        idempotent: true,
        signal: options.signal,
        giveUpAt: started + (options.totalTimeoutMs ?? 4 * deadlineMs),
        onRetry: (error, attempt, delayMs) => this.options.onRetry?.(error, attempt, delayMs, rpcName(method)),
      },
    );
  }

  /** A mutating call whose error names the key it sent (`RpcError.idempotencyKey`), so the caller can retry it safely. */
  private async keyedCall<Req, Res>(idempotencyKey: string, method: UnaryMethod<Req, Res>, request: Req, options: CallOptions = {}): Promise<Res> {
    try {
      return await this.call(method, request, options);
    } catch (error) {
      if (error instanceof RpcError) error.idempotencyKey = idempotencyKey;
      throw error;
    }
  }

  /** Reserves an estimate: a hold to charge, or a denial (not an error: `allowed` is false and `reason` says why). */
  async authorize(input: AuthorizeInput, options?: CallOptions): Promise<Authorization> {
    const idempotencyKey = input.idempotencyKey ?? uuidv7();
    const answer = await this.keyedCall(
      idempotencyKey,
      this.ledger.authorize,
      {
        accountId: input.accountId,
        estimate: input.estimate,
        attribution: attributionOf(input.attribution),
        idempotencyKey,
        ttlMs: String(input.ttlMs ?? 0),
        context: contextOf(input.context),
        workKind: workKindOf(input.workKind),
      },
      options,
    );
    if (!answer.allowed) {
      return { allowed: false, reason: denialReasonName(answer.reason), message: answer.message, availableMicros: micros(answer.availableMicros), draftsOnly: answer.draftsOnly, idempotencyKey };
    }
    return {
      allowed: true,
      holdId: answer.holdId || undefined,
      metered: answer.metered,
      amountMicros: micros(answer.amountMicros),
      availableMicros: micros(answer.availableMicros),
      expiresAt: answer.expiresAt,
      rateTableId: answer.rateTableId,
      rateTableVersion: micros(answer.rateTableVersion),
      message: answer.message,
      idempotencyKey,
    };
  }

  /** Charges usage, on a hold or one-shot. `proceed` false means stop: the account is at its limit. */
  async charge(input: ChargeInput, options?: CallOptions): Promise<ChargeResult> {
    const idempotencyKey = input.idempotencyKey ?? uuidv7();
    const answer = await this.keyedCall(
      idempotencyKey,
      this.ledger.charge,
      {
        accountId: input.accountId,
        holdId: input.holdId ?? "",
        usage: input.usage,
        final: input.final ?? true,
        idempotencyKey,
        attribution: attributionOf(input.attribution),
        context: contextOf(input.context),
        occurredAt: input.occurredAt,
        workKind: workKindOf(input.workKind),
      },
      options,
    );
    return {
      chargedMicros: micros(answer.chargedMicros),
      uncollectedMicros: micros(answer.uncollectedMicros),
      balanceMicros: micros(answer.balanceMicros),
      releasedMicros: micros(answer.releasedMicros),
      proceed: answer.proceed,
      budgetId: answer.budgetId || undefined,
      entryId: micros(answer.entryId),
      idempotencyKey,
    };
  }

  /**
   * Reserves more on an open hold and/or keeps it open longer. A denial
   * (`allowed: false`) leaves the hold as it was; an expired hold is
   * `FAILED_PRECONDITION` `HOLD_EXPIRED` (authorize again).
   */
  async extendHold(input: ExtendHoldInput, options?: CallOptions): Promise<HoldExtension> {
    const idempotencyKey = input.idempotencyKey ?? uuidv7();
    const answer = await this.keyedCall(
      idempotencyKey,
      this.ledger.extendHold,
      { accountId: input.accountId, holdId: input.holdId, estimate: input.estimate, ttlMs: String(input.ttlMs ?? 0), idempotencyKey },
      options,
    );
    const amounts = { amountMicros: micros(answer.amountMicros), availableMicros: micros(answer.availableMicros), idempotencyKey };
    return answer.allowed
      ? { allowed: true, ...amounts, expiresAt: answer.expiresAt }
      : { allowed: false, reason: denialReasonName(answer.reason), message: answer.message, ...amounts };
  }

  /** Gives back what a hold still reserves (answers 0 for a hold no longer open). */
  async release(input: ReleaseInput, options?: CallOptions): Promise<ReleaseResult> {
    const idempotencyKey = input.idempotencyKey ?? uuidv7();
    const answer = await this.keyedCall(idempotencyKey, this.ledger.release, { accountId: input.accountId, holdId: input.holdId, idempotencyKey }, options);
    const holdStatus = ledgerV1.holdStatusToJSON(answer.status).replace(/^HOLD_STATUS_/, "") as ReleaseResult["status"];
    return { releasedMicros: micros(answer.releasedMicros), status: holdStatus, idempotencyKey };
  }

  /** The account's balance per unit (`credits`, `usd`, …). */
  async balance(accountId: string, options?: CallOptions): Promise<UnitBalance[]> {
    const answer = await this.call(this.ledger.getBalance, { accountId }, options);
    return answer.units.map((u) => ({
      unit: commonV1.unitToJSON(u.unit).replace(/^UNIT_/, "").toLowerCase(),
      balanceMicros: micros(u.balanceMicros),
      heldMicros: micros(u.heldMicros),
      availableMicros: micros(u.availableMicros),
    }));
  }

  /**
   * Meters a streamed response: authorizes the estimate (a denial throws
   * `DeniedError`) and returns a meter to report increments to; see Meter.
   */
  openMeter(options: MeterOptions): Promise<Meter> {
    return openMeter(this, options);
  }

  /**
   * Meters a streamed response around `body`: the meter is closed with a
   * final charge when `body` returns, and its hold released when it throws.
   */
  async meter<T>(options: MeterOptions, body: (meter: Meter) => Promise<T>): Promise<T> {
    return around(await this.openMeter(options), body, (meter) => meter.close(), (meter) => meter.release());
  }

  /**
   * Meters a streamed response over the ledger's Meter stream: the open holds
   * the estimate (a denial throws `DeniedError`), increments go without
   * waiting for each answer, and the ledger pushes a stop the moment the work
   * must end, even while nothing is reported; see StreamMeter.
   */
  openStream(options: StreamMeterOptions): Promise<StreamMeter> {
    return openStreamMeter({ ledger: this.ledger, deadlineMs: this.deadlineMs, retry: this.retry, onRetry: this.options.onRetry }, options);
  }

  /**
   * `openStream` around `body`: the stream is closed when `body` returns or
   * throws (closing without more usage gives back the rest of the hold).
   */
  async stream<T>(options: StreamMeterOptions, body: (meter: StreamMeter) => Promise<T>): Promise<T> {
    const close = (meter: StreamMeter) => meter.close();
    return around(await this.openStream(options), body, close, close);
  }

  /** Starts metered time (StartRun; a denial throws `DeniedError`); see Run. */
  run(options: RunOptions): Promise<Run> {
    return startRun(this, options);
  }

  close(): void {
    this.ledger.close();
  }
}

/**
 * Runs `body` on an open meter, then ends it: `done` when `body` returns, `failed` (whose own error is dropped) when it
 * throws, or when `done` does (a final charge refused: what the meter still holds is given back, not left to its ttl).
 */
async function around<M, T>(meter: M, body: (meter: M) => Promise<T>, done: (meter: M) => Promise<unknown>, failed: (meter: M) => Promise<unknown>): Promise<T> {
  let result: T;
  try {
    result = await body(meter);
  } catch (error) {
    await failed(meter).catch(() => undefined);
    throw error;
  }
  try {
    await done(meter);
  } catch (error) {
    await failed(meter).catch(() => undefined);
    throw error;
  }
  return result;
}

/** A refusal as an error, for helpers whose caller cannot go on without the work being admitted. */
export function denied(reason: ledgerV1.DenialReason, message: string, availableMicros = "0", draftsOnly = false): DeniedError {
  return new DeniedError(denialReasonName(reason), message, micros(availableMicros), draftsOnly);
}
