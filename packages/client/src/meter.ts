import type { Attribution, Authorization, CallOptions, ChargeInput, ChargeResult, ReleaseResult, RunContext, TollgateClient, WorkKind } from "./client.js";
import { DeniedError, FailedPreconditionError } from "./errors.js";
import { stepKey, uuidv7 } from "./keys.js";
import type { LedgerStopReason } from "./stream.js";
import { zeroOf, type Usage } from "./usage.js";

export interface MeterOptions {
  accountId: string;
  /** What the whole response is expected to use: the hold's amount. */
  estimate: Usage;
  /**
   * Names this piece of work (e.g. the reply's id); every charge's key is
   * derived from it and the increment's number, so running the same work
   * again with the same key never charges an increment twice. Generated
   * (UUIDv7) when unset.
   */
  workKey?: string;
  attribution?: Attribution;
  context?: RunContext;
  /** The kind of work ("guardrail", "custom_script"…): the plan's limits for it apply to the hold and every charge on it. */
  workKind?: WorkKind;
  /** The hold's lifetime (the ledger's default when unset). */
  ttlMs?: number;
  /** The caller's own cancellation (say, the end user went away): stops the meter with reason CANCELLED. */
  signal?: AbortSignal;
  /** Deadline and retry budget of each call the meter makes. */
  callOptions?: CallOptions;
}

/**
 * Why a meter stopped: LIMIT_REACHED (a charge answered `proceed` false: the
 * balance is at its limit, e.g. drained by another caller), HOLD_CLOSED (the
 * hold was charged or released elsewhere), CANCELLED (the caller's signal),
 * FAILED (a charge failed for good), CLOSED / RELEASED (the meter ended);
 * over a Meter stream also SUSPENDED (support suspended the account).
 */
export type StopReason = "LIMIT_REACHED" | "HOLD_CLOSED" | "CANCELLED" | "FAILED" | "CLOSED" | "RELEASED" | "SUSPENDED";

/** A report's own options. */
export interface ReportOptions {
  /** When the usage happened, for usage reported late (as ChargeInput.occurredAt); unset: now. */
  occurredAt?: Date;
}

/** A report's options as charge fields (only these: options never override the meter's own). */
function reported(options: ReportOptions): Pick<ChargeInput, "occurredAt"> {
  return options.occurredAt ? { occurredAt: options.occurredAt } : {};
}

export interface Stop {
  reason: StopReason;
  message: string;
  /** A stop the ledger pushed over a Meter stream: its own reason (a spent budget is LIMIT_REACHED here, BUDGET there). */
  ledgerReason?: LedgerStopReason;
}

/**
 * One streamed response being metered. `report` charges each increment on
 * the hold (`final` false) in the order reported, one at a time; `signal`
 * aborts and `stopped` resolves as soon as the work must stop. Usage reported
 * after a stop is still charged (the work was done): the ledger records what
 * it cannot collect. `close` posts the final charge (which releases what the
 * hold reserved beyond the usage), `release` gives the hold back on error.
 */
export class Meter {
  readonly holdId: string | undefined;
  /** Aborted, with the Stop as its reason, when the work must stop. */
  readonly signal: AbortSignal;
  /** Resolves with the first Stop; never rejects. */
  readonly stopped: Promise<Stop>;
  private readonly controller = new AbortController();
  private resolveStopped!: (stop: Stop) => void;
  private chain: Promise<unknown> = Promise.resolve();
  private sequence = 0;
  private charged = 0n;
  private uncollected = 0n;
  private largestIncrement = 0n;
  /** The increment that was the largest so far: what an extension asks for. */
  private largestUsage: Usage | undefined;
  /** What the hold reserves in all (it grows with each extension). */
  private reservedMicros: bigint;
  private extensions = 0;
  /** Set once an extension was refused: the meter charges above the hold from then on. */
  private extensionRefused = false;
  private ending: { kind: "close"; done: Promise<ChargeResult | undefined> } | { kind: "release"; done: Promise<ReleaseResult | undefined> } | undefined;

  constructor(
    private readonly client: TollgateClient,
    private readonly options: MeterOptions & { workKey: string },
    readonly authorization: Extract<Authorization, { allowed: true }>,
  ) {
    this.holdId = authorization.holdId;
    this.reservedMicros = authorization.amountMicros;
    this.signal = this.controller.signal;
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    const caller = options.signal;
    if (caller) {
      const cancel = () => this.stop("CANCELLED", "the caller cancelled the work");
      if (caller.aborted) cancel();
      else {
        caller.addEventListener("abort", cancel, { once: true });
        // A long-lived signal shared by many meters keeps none of them once stopped.
        void this.stopped.then(() => caller.removeEventListener("abort", cancel));
      }
    }
  }

  get workKey(): string {
    return this.options.workKey;
  }

  /** What the increments (and the final charge) collected so far. */
  get chargedMicros(): bigint {
    return this.charged;
  }

  /** Usage charged past the account's limit, recorded but not collected. */
  get uncollectedMicros(): bigint {
    return this.uncollected;
  }

  /** Increments reported so far. */
  get increments(): number {
    return this.sequence;
  }

  /**
   * Charges one increment (say, the tokens streamed since the last report).
   * Its idempotency key is `<workKey>/charge/<n>`, n counting reports from 1.
   * `occurredAt`: when the usage happened, for an increment reported late.
   */
  report(usage: Usage, options: ReportOptions = {}): Promise<ChargeResult> {
    if (this.ending) return Promise.reject(new TypeError(`meter ${this.workKey} is closed`));
    const step = `charge/${++this.sequence}`;
    const result = this.chain.then(() => this.chargeIncrement(step, usage, options));
    this.chain = result.catch(() => undefined);
    return result;
  }

  /**
   * The final charge, after the increments still in flight: `usage` is the
   * last increment (none: zero of the estimate's kind). It releases what the
   * hold reserved beyond the usage. Calling it again answers the same.
   * Unmetered work without a final usage charges nothing (undefined).
   */
  close(usage?: Usage, options: ReportOptions = {}): Promise<ChargeResult | undefined> {
    if (this.ending?.kind === "release") return Promise.reject(new TypeError(`meter ${this.workKey} was released`));
    this.ending ??= {
      kind: "close",
      done: this.chain.then(async () => {
        if (!this.holdId && !usage) return undefined;
        const result = await this.client.charge(
          { ...this.target(), usage: usage ?? zeroOf(this.options.estimate), final: true, idempotencyKey: stepKey(this.workKey, "final"), ...reported(options) },
          this.options.callOptions,
        );
        this.count(result);
        return result;
      }),
    };
    return this.ending.done.finally(() => this.stop("CLOSED", "the meter was closed"));
  }

  /**
   * Gives back what the hold still reserves (the work failed); increments
   * already charged stay charged. After a `close` there is nothing to give
   * back (undefined), unless its final charge failed: then the hold is
   * released all the same.
   */
  async release(): Promise<ReleaseResult | undefined> {
    if (this.ending?.kind === "close") {
      if (await this.ending.done.then(() => true, () => false)) return undefined;
      this.ending = undefined;
    }
    this.ending ??= {
      kind: "release",
      done: this.chain.then(() =>
        this.holdId
          ? this.client.release({ accountId: this.options.accountId, holdId: this.holdId, idempotencyKey: stepKey(this.workKey, "release") }, this.options.callOptions)
          : undefined,
      ),
    };
    return this.ending.done.finally(() => this.stop("RELEASED", "the hold was released"));
  }

  private target() {
    return {
      accountId: this.options.accountId,
      ...(this.holdId ? { holdId: this.holdId } : {}),
      ...(this.options.attribution ? { attribution: this.options.attribution } : {}),
      ...(this.options.context ? { context: this.options.context } : {}),
    };
  }

  private async chargeIncrement(step: string, usage: Usage, options: ReportOptions): Promise<ChargeResult> {
    await this.keepHoldAhead();
    let result: ChargeResult;
    try {
      // Without a hold (unmetered work) each increment is a one-shot charge, journaled at zero.
      result = await this.client.charge({ ...this.target(), usage, final: !this.holdId, idempotencyKey: stepKey(this.workKey, step), ...reported(options) }, this.options.callOptions);
    } catch (error) {
      if (error instanceof FailedPreconditionError && error.reason === "HOLD_CLOSED") this.stop("HOLD_CLOSED", error.message);
      else this.stop("FAILED", error instanceof Error ? error.message : String(error));
      throw error;
    }
    this.count(result);
    if (result.chargedMicros + result.uncollectedMicros > this.largestIncrement) {
      this.largestIncrement = result.chargedMicros + result.uncollectedMicros;
      this.largestUsage = usage;
    }
    if (!result.proceed) this.stop("LIMIT_REACHED", `the account is at its limit (balance ${result.balanceMicros} micros, ${result.uncollectedMicros} uncollected)`);
    return result;
  }

  private count(result: ChargeResult) {
    this.charged += result.chargedMicros;
    this.uncollected += result.uncollectedMicros;
  }

  /**
   * Before an increment: when what the hold still reserves would not cover
   * the next increment (judged by the largest so far), ask for more.
   */
  private async keepHoldAhead(): Promise<void> {
    if (!this.holdId || this.signal.aborted || this.extensionRefused || !this.largestUsage) return;
    const left = this.reservedMicros - this.charged;
    if (left >= this.largestIncrement) return;
    await this.extendHold(this.largestUsage);
  }

  /**
   * Grows the hold by one more of the largest increment and renews its ttl
   * (`ExtendHold`, keyed `<workKey>/extend/<n>`); true when the ledger allowed
   * it. A refusal (the balance cannot cover it, the hold expired) is not a
   * stop: the meter goes on charging above the hold, which the ledger accepts
   * while the balance lasts and answers `proceed` false once it does not.
   */
  private async extendHold(usage: Usage): Promise<boolean> {
    try {
      const extended = await this.client.extendHold(
        {
          accountId: this.options.accountId, holdId: this.holdId!, estimate: usage, ttlMs: this.options.ttlMs ?? DEFAULT_TTL_MS,
          idempotencyKey: stepKey(this.workKey, `extend/${++this.extensions}`),
        },
        this.options.callOptions,
      );
      if (extended.allowed) this.reservedMicros = extended.amountMicros;
      else this.extensionRefused = true;
      return extended.allowed;
    } catch (error) {
      if (!(error instanceof FailedPreconditionError)) throw error;
      this.extensionRefused = true;
      return false;
    }
  }

  private stop(reason: StopReason, message: string) {
    if (this.controller.signal.aborted) return;
    const stop = { reason, message };
    this.controller.abort(stop);
    this.resolveStopped(stop);
  }
}

/** The ledger's default hold ttl, renewed by each extension when the meter names none. */
const DEFAULT_TTL_MS = 5 * 60_000;

export async function openMeter(client: TollgateClient, options: MeterOptions): Promise<Meter> {
  const workKey = options.workKey ?? uuidv7();
  const authorization = await client.authorize(
    {
      accountId: options.accountId,
      estimate: options.estimate,
      idempotencyKey: stepKey(workKey, "authorize"),
      ...(options.attribution ? { attribution: options.attribution } : {}),
      ...(options.context ? { context: options.context } : {}),
      ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
      ...(options.workKind ? { workKind: options.workKind } : {}),
    },
    options.callOptions,
  );
  if (!authorization.allowed) throw new DeniedError(authorization.reason, authorization.message, authorization.availableMicros, authorization.draftsOnly);
  return new Meter(client, { ...options, workKey }, authorization);
}
