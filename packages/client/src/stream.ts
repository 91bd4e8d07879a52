import { Metadata, status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { ledgerV1 } from "@tollgate/proto";
import { attributionOf, contextOf, workKindOf } from "./client.js";
import { decodeError, denialReasonName, DeniedError, RpcError } from "./errors.js";
import { uuidv7 } from "./keys.js";
import type { MeterOptions, ReportOptions, Stop, StopReason } from "./meter.js";
import { backoffMs, isRetryable, type RetryPolicy } from "./retry.js";
import type { Usage } from "./usage.js";

export interface StreamMeterOptions extends Omit<MeterOptions, "workKey" | "callOptions"> {
  /**
   * The work's id (at most 128 characters): the stream's idempotency root, so
   * a reconnect, or the same work opened again after a crash, charges each
   * increment once. Generated (UUIDv7) when unset.
   */
  workId?: string;
  /** How long the ledger may take to answer the open (the client's deadline when unset). */
  openDeadlineMs?: number;
}

/** The ledger's answer to one increment. */
export interface StreamCharge {
  sequence: bigint;
  chargedMicros: bigint;
  /** Usage past the negative limit, recorded but not collected. */
  uncollectedMicros: bigint;
  balanceMicros: bigint;
  /** False: the account is at its limit (the stop follows). */
  proceed: boolean;
  entryId: bigint;
  /** True when this increment had been charged before (a reconnect's replay) and this is the recorded answer. */
  replayed: boolean;
}

/** The ledger's answer to close. */
export interface StreamTotals {
  /** Every increment and the final charge. */
  totalChargedMicros: bigint;
  finalChargedMicros: bigint;
  /** The unused rest of the hold, given back. */
  releasedMicros: bigint;
}

/** Why the ledger stopped a stream (ledger.v1.MeterStopReason). */
export type LedgerStopReason = "NEGATIVE_LIMIT" | "SPEND_CAP" | "BUDGET" | "ACCOUNT_SUSPENDED" | "HOLD_EXPIRED";

const STOP_REASONS: Record<LedgerStopReason, StopReason> = {
  NEGATIVE_LIMIT: "LIMIT_REACHED",
  SPEND_CAP: "LIMIT_REACHED",
  BUDGET: "LIMIT_REACHED",
  ACCOUNT_SUSPENDED: "SUSPENDED",
  HOLD_EXPIRED: "HOLD_CLOSED",
};

/** What the stream meter needs of its client: the generated ledger client and the client's call settings. */
export interface StreamTransport {
  ledger: ledgerV1.LedgerServiceClient;
  deadlineMs: number;
  retry: RetryPolicy;
  onRetry?: ((error: RpcError, attempt: number, delayMs: number, method: string) => void) | undefined;
}

type Call = ClientDuplexStream<ledgerV1.MeterRequest, ledgerV1.MeterResponse>;
type Waiting<T> = { request: ledgerV1.MeterRequest; resolve: (value: T) => void; reject: (error: unknown) => void };

const micros = (value: string | undefined) => BigInt(value || "0");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const transportError = (code: status, details: string) => decodeError({ code, details, metadata: new Metadata() } satisfies Partial<ServiceError>) as RpcError;

/**
 * One piece of work metered over the ledger's bidirectional Meter stream:
 * the open holds the estimate, `report` sends increments without waiting for
 * the previous answer, and the ledger pushes a stop the moment the work must
 * end (another caller drained the balance, a hard budget ran out, support
 * suspended the account, the hold expired), so `signal` aborts even while
 * the caller reports nothing. A broken stream reconnects with the same open
 * and resends what was not answered (the ledger answers a replay with its
 * recorded answer); the hold survives a break for the ledger's grace period.
 * Usage reported after a stop is still charged (the work was done): the
 * ledger records what it cannot collect. `close` posts the final charge and
 * gives back the rest of the hold.
 */
export class StreamMeter {
  /** Undefined for unmetered work (charged at zero). */
  readonly holdId: string | undefined;
  readonly amountMicros: bigint;
  readonly availableMicros: bigint;
  readonly expiresAt: Date | undefined;
  readonly metered: boolean;
  /** Aborted, with the Stop as its reason, when the work must stop. */
  readonly signal: AbortSignal;
  /** Resolves with the first Stop; never rejects. */
  readonly stopped: Promise<Stop>;
  private readonly controller = new AbortController();
  private resolveStopped!: (stop: Stop) => void;
  private readonly unanswered = new Map<bigint, Waiting<StreamCharge>>();
  private call: Call;
  private closing: Waiting<StreamTotals> | undefined;
  private ending: Promise<StreamTotals> | undefined;
  private sequence = 0n;
  private charged = 0n;
  private failure: unknown;
  private closed = false;
  /** Between a break and the new stream's open: writes wait for the resend. */
  private reconnecting = false;
  /** Breaks since the ledger last answered something: a reconnect that never gets anywhere gives up. */
  private breaks = 0;
  private connectedAt = Date.now();

  constructor(
    private readonly transport: StreamTransport,
    private readonly open: ledgerV1.MeterOpen,
    private readonly openDeadlineMs: number,
    connection: Connection,
    caller: AbortSignal | undefined,
  ) {
    const opened = connection.opened;
    this.call = connection.call;
    this.holdId = opened.holdId || undefined;
    this.amountMicros = micros(opened.amountMicros);
    this.availableMicros = micros(opened.availableMicros);
    this.expiresAt = opened.expiresAt;
    this.metered = opened.metered;
    this.signal = this.controller.signal;
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.follow(connection);
    if (caller) {
      const cancel = () => this.stop({ reason: "CANCELLED", message: "the caller cancelled the work" });
      if (caller.aborted) cancel();
      else {
        caller.addEventListener("abort", cancel, { once: true });
        // A long-lived signal shared by many meters keeps none of them once stopped.
        void this.stopped.then(() => caller.removeEventListener("abort", cancel));
      }
    }
  }

  get workId(): string {
    return this.open.workId;
  }

  /** What the answered increments collected so far. */
  get chargedMicros(): bigint {
    return this.charged;
  }

  /** Increments reported so far. */
  get increments(): number {
    return Number(this.sequence);
  }

  /**
   * Sends one increment (the usage since the last report) as the next
   * sequence, and answers the ledger's charge. Reports may overlap: the
   * stream keeps them in order.
   */
  report(usage: Usage, options: ReportOptions = {}): Promise<StreamCharge> {
    if (this.ending) return Promise.reject(new TypeError(`stream ${this.workId} is closed`));
    if (this.failure) return Promise.reject(this.failure);
    const sequence = ++this.sequence;
    const request: ledgerV1.MeterRequest = {
      kind: { $case: "increment", increment: { sequence: sequence.toString(), usage, occurredAt: options.occurredAt } },
    };
    return new Promise((resolve, reject) => {
      this.unanswered.set(sequence, { request, resolve, reject });
      if (!this.reconnecting) this.call.write(request);
    });
  }

  /**
   * Ends the work after the increments in flight: `usage` (none: nothing
   * more) is the final charge, and the rest of the hold is given back. Call it
   * on failure too: increments already charged stay charged. Calling it again
   * answers the same.
   */
  close(usage?: Usage, options: ReportOptions = {}): Promise<StreamTotals> {
    this.ending ??= this.failure
      ? Promise.reject(this.failure)
      : new Promise<StreamTotals>((resolve, reject) => {
          const request: ledgerV1.MeterRequest = { kind: { $case: "close", close: { usage, occurredAt: options.occurredAt } } };
          this.closing = { request, resolve, reject };
          if (!this.reconnecting) this.call.write(request);
        });
    return this.ending.finally(() => this.stop({ reason: "CLOSED", message: "the stream was closed" }));
  }

  private follow({ call, attach }: Connection) {
    attach({
      message: (message) => {
        if (call === this.call) this.receive(message);
      },
      ended: (error) => {
        // The ledger ends a stream itself (OK) only after answering close.
        if (call === this.call && !this.closed) void this.broken(error ?? transportError(status.UNAVAILABLE, "the ledger ended the stream"));
      },
    });
  }

  private receive(message: ledgerV1.MeterResponse) {
    const kind = message.kind;
    if (kind?.$case === "charged") {
      this.breaks = 0;
      const sequence = micros(kind.charged.sequence);
      const waiting = this.unanswered.get(sequence);
      if (!waiting) return;
      this.unanswered.delete(sequence);
      const charged: StreamCharge = {
        sequence,
        chargedMicros: micros(kind.charged.chargedMicros),
        uncollectedMicros: micros(kind.charged.uncollectedMicros),
        balanceMicros: micros(kind.charged.balanceMicros),
        proceed: kind.charged.proceed,
        entryId: micros(kind.charged.entryId),
        replayed: kind.charged.replayed,
      };
      this.charged += charged.chargedMicros;
      waiting.resolve(charged);
    } else if (kind?.$case === "stop") {
      const ledgerReason = ledgerV1.meterStopReasonToJSON(kind.stop.reason).replace(/^METER_STOP_REASON_/, "") as LedgerStopReason;
      this.stop({ reason: STOP_REASONS[ledgerReason] ?? "LIMIT_REACHED", message: kind.stop.message, ledgerReason });
    } else if (kind?.$case === "closed") {
      this.closed = true;
      this.call.end();
      const final = micros(kind.closed.finalChargedMicros);
      this.charged += final;
      this.closing?.resolve({ totalChargedMicros: micros(kind.closed.totalChargedMicros), finalChargedMicros: final, releasedMicros: micros(kind.closed.releasedMicros) });
    }
  }

  /**
   * The stream broke: reconnect with the same open and resend what the
   * ledger has not answered, as the retry policy allows; an error not worth
   * retrying (a bad increment, a lost credential) fails the meter.
   */
  private async broken(error: RpcError): Promise<void> {
    if (this.closed || this.failure || this.reconnecting) return;
    this.reconnecting = true;
    this.call.cancel();
    // A stream that had stayed up a while broke afresh: its retries start over (an idle stream outlives many deploys).
    if (Date.now() - this.connectedAt >= STABLE_MS) this.breaks = 0;
    const giveUpAt = Date.now() + RECONNECT_WITHIN_MS;
    const { retry } = this.transport;
    try {
      while (isRetryable(error, true) && ++this.breaks < retry.maxAttempts) {
        const delay = backoffMs(this.breaks, retry, error.retryDelayMs);
        if (Date.now() + delay >= giveUpAt) break;
        retrying(this.transport, error, this.breaks, delay);
        await sleep(delay);
        try {
          const connection = await connect(this.transport.ledger, this.open, Math.max(1, Math.min(this.openDeadlineMs, giveUpAt - Date.now())));
          const { call, opened } = connection;
          // A reconnect's open replays the first one's recorded answer; a refusal now means the work is gone.
          if (!opened.allowed) {
            call.end();
            throw transportError(status.FAILED_PRECONDITION, `the ledger refused to reopen ${this.workId}: ${opened.message}`);
          }
          // Resent before anything the new stream said is heard: a break it reports starts the next reconnect from here.
          this.call = call;
          this.connectedAt = Date.now();
          this.reconnecting = false;
          for (const sequence of [...this.unanswered.keys()].sort((a, b) => (a < b ? -1 : 1))) call.write(this.unanswered.get(sequence)!.request);
          if (this.closing) call.write(this.closing.request);
          this.follow(connection);
          return;
        } catch (next) {
          error = next instanceof RpcError ? next : transportError(status.UNKNOWN, String(next));
        }
      }
    } catch (unexpected) {
      error = unexpected instanceof RpcError ? unexpected : transportError(status.UNKNOWN, String(unexpected));
    }
    this.reconnecting = false;
    this.fail(error);
  }

  private fail(error: RpcError) {
    this.failure = error;
    for (const waiting of this.unanswered.values()) waiting.reject(error);
    this.unanswered.clear();
    this.closing?.reject(error);
    this.stop({ reason: "FAILED", message: error.message });
  }

  private stop(stop: Stop) {
    if (this.controller.signal.aborted) return;
    this.controller.abort(stop);
    this.resolveStopped(stop);
  }
}

/** A stream up this long before it broke was working: its reconnect starts with a fresh retry budget. */
const STABLE_MS = 10_000;
/** Reconnects stop trying after this long: the ledger keeps a broken stream's hold for its grace period (30 s by default). */
const RECONNECT_WITHIN_MS = 25_000;

/** Tells the client's `onRetry` of a retry; its failing is no reason to drop the work. */
function retrying(transport: StreamTransport, error: RpcError, attempt: number, delayMs: number) {
  try {
    transport.onRetry?.(error, attempt, delayMs, "Meter");
  } catch {
    // Ignored: see above.
  }
}

/** Opens a Meter stream and waits for the ledger's answer to the open. */
/** What a stream tells its meter once the open is answered: each message, and how it ended. */
interface Listener {
  message(message: ledgerV1.MeterResponse): void;
  /** The stream ended: with an error, or OK (the ledger answered close, or ended early). */
  ended(error: RpcError | undefined): void;
}

/** A stream whose open the ledger answered; what arrives after the answer waits until `attach`. */
interface Connection {
  call: Call;
  opened: ledgerV1.MeterOpened;
  attach(listener: Listener): void;
}

/** Opens a Meter stream and waits for the ledger's answer to the open. */
function connect(ledger: ledgerV1.LedgerServiceClient, open: ledgerV1.MeterOpen, deadlineMs: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const call = ledger.meter();
    let answered = false;
    let listener: Listener | undefined;
    const backlog: ((listener: Listener) => void)[] = [];
    const afterOpen = (event: (listener: Listener) => void) => (listener ? event(listener) : backlog.push(event));
    const attach = (attached: Listener) => {
      listener = attached;
      for (const event of backlog.splice(0)) event(attached);
    };
    const timer = setTimeout(() => {
      answered = true;
      call.cancel();
      reject(transportError(status.DEADLINE_EXCEEDED, `the ledger did not answer the open of ${open.workId} within ${deadlineMs} ms`));
    }, deadlineMs);
    call.on("data", (message: ledgerV1.MeterResponse) => {
      if (answered) return afterOpen((l) => l.message(message));
      if (message.kind?.$case !== "opened") return;
      answered = true;
      clearTimeout(timer);
      resolve({ call, opened: message.kind.opened, attach });
    });
    // grpc-js reports every end as a status; one other than OK also as an error, handled here.
    call.on("error", () => undefined);
    call.on("status", (ended: { code: status; details: string; metadata: Metadata }) => {
      const error = ended.code === status.OK ? undefined : (decodeError({ ...ended, message: ended.details } as Partial<ServiceError>) as RpcError);
      if (answered) return afterOpen((l) => l.ended(error));
      answered = true;
      clearTimeout(timer);
      reject(error ?? transportError(status.UNAVAILABLE, "the ledger ended the stream before answering the open"));
    });
    call.write({ kind: { $case: "open", open } });
  });
}

/**
 * Opens the work's stream: the estimate is held (a denial throws
 * `DeniedError`), and an open that fails for a reason worth retrying is
 * retried as the client's retry policy says.
 */
export async function openStreamMeter(transport: StreamTransport, options: StreamMeterOptions): Promise<StreamMeter> {
  const open: ledgerV1.MeterOpen = {
    accountId: options.accountId,
    workId: options.workId ?? uuidv7(),
    estimate: options.estimate,
    attribution: attributionOf(options.attribution),
    context: contextOf(options.context),
    ttlMs: String(options.ttlMs ?? 0),
    workKind: workKindOf(options.workKind),
  };
  const deadlineMs = options.openDeadlineMs ?? transport.deadlineMs;
  for (let attempt = 1; ; attempt++) {
    let connected: Connection;
    try {
      connected = await connect(transport.ledger, open, deadlineMs);
    } catch (error) {
      if (attempt >= transport.retry.maxAttempts || !isRetryable(error, true)) throw error;
      const delay = backoffMs(attempt, transport.retry, (error as RpcError).retryDelayMs);
      retrying(transport, error as RpcError, attempt, delay);
      await sleep(delay);
      continue;
    }
    const { call, opened } = connected;
    if (!opened.allowed) {
      call.end();
      throw new DeniedError(denialReasonName(opened.reason), opened.message, micros(opened.availableMicros), opened.draftsOnly);
    }
    return new StreamMeter(transport, open, deadlineMs, connected, options.signal);
  }
}

