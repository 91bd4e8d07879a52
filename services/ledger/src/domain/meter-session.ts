import { InvalidArgumentError } from "@tollgate/errors";
import { workKey } from "./rules/idempotency.js";

/** Why a Meter stream is told to stop. */
export type MeterStopReason = "NEGATIVE_LIMIT" | "SPEND_CAP" | "BUDGET" | "ACCOUNT_SUSPENDED" | "HOLD_EXPIRED";

export interface MeterStop {
  reason: MeterStopReason;
  message: string;
}

/**
 * The idempotency keys of one piece of work: everything a stream writes is
 * keyed from its work id, so a reconnect that replays charges each once.
 */
export const meterKeys = (workId: string) => ({
  open: workKey(workId, "open"),
  increment: (sequence: bigint) => workKey(workId, sequence),
  close: workKey(workId, "close"),
  /** The release after a broken stream's grace period. */
  release: workKey(workId, "release"),
});

/** What a stream knows of its hold when it opens (or reopens after a reconnect). */
export interface MeterHold {
  holdId: string;
  unit: string;
  amountMicros: bigint;
  chargedMicros: bigint;
  status: "open" | "charged" | "released" | "expired";
  expiresAt: Date | undefined;
}

/** An increment's charge as the session needs it. */
export interface MeterCharge {
  chargedMicros: bigint;
  proceed: boolean;
  replayed: boolean;
  /** The hard budget that left nothing, when it is why the charge may not proceed. */
  budgetId?: string | undefined;
}

/** The limit a unit stops at: a BYOM account's USD is capped by its spend cap, other units by their negative limit. */
const limitReason = (unit: string): MeterStopReason => (unit === "usd" ? "SPEND_CAP" : "NEGATIVE_LIMIT");

const LIMIT_MESSAGE: Record<"NEGATIVE_LIMIT" | "SPEND_CAP", string> = {
  NEGATIVE_LIMIT: "the account has no credits left beyond its negative limit",
  SPEND_CAP: "the account's spend cap is used up",
};

/**
 * One Meter stream's rules, without I/O: which sequences it accepts, what is
 * left of its hold, and when it must stop (once). The transport feeds it
 * what happens (charges, notifications, the account's status, the clock) and
 * sends what it answers.
 */
export class MeterSession {
  /** The highest sequence this stream has seen (none yet on a new or reconnected stream). */
  private highest: bigint | undefined;
  /** What the hold still reserves for this stream. */
  private holdLeft: bigint;
  private stop: MeterStop | undefined;
  private closed = false;

  constructor(
    readonly accountId: string,
    readonly workId: string,
    /** Undefined when the work is unmetered (nothing held, nothing to stop). */
    readonly hold: MeterHold | undefined,
  ) {
    this.holdLeft = hold && hold.status === "open" ? max0(hold.amountMicros - hold.chargedMicros) : 0n;
  }

  get keys() {
    return meterKeys(this.workId);
  }

  get unit(): string | undefined {
    return this.hold?.unit;
  }

  /** True once a stop was decided. */
  get stopped(): boolean {
    return this.stop !== undefined;
  }

  /** The hold is open and this stream has not closed it: what breaking the stream would leave to release. */
  get holding(): boolean {
    return !this.closed && this.hold !== undefined && this.hold.status === "open";
  }

  /** What the hold still reserves for this stream. */
  get reserved(): bigint {
    return this.holdLeft;
  }

  /**
   * Whether admitting `sequence` needs to know if the sequence before it was charged: a stream's first increment may resume
   * its work past 1 (a reconnect sends what it is not sure of), only where an earlier stream left off.
   */
  resumes(sequence: bigint): boolean {
    return this.highest === undefined && sequence > 1n;
  }

  /**
   * Admits an increment's sequence. Sequences run 1, 2, 3… over the work: an increment is the next one, or one already sent
   * (its charge is replayed). A stream's first increment is 1, or one whose sequence before it was charged
   * (`previousCharged`, asked when `resumes` says so: on a reconnect, where the broken stream left off, or a replay of what
   * it sent); anything else skips ahead and is refused.
   */
  admit(sequence: bigint, previousCharged = false): "next" | "replay" {
    if (this.closed) throw new InvalidArgumentError("increment", "the stream is closed");
    if (sequence < 1n) throw new InvalidArgumentError("increment.sequence", "must be at least 1");
    if (this.highest === undefined) {
      if (sequence > 1n && !previousCharged) {
        throw new InvalidArgumentError("increment.sequence", `skips ahead: the work's sequences start at 1, and ${sequence - 1n} was never charged`);
      }
      this.highest = sequence;
      return "next";
    }
    if (sequence === this.highest + 1n) {
      this.highest = sequence;
      return "next";
    }
    if (sequence <= this.highest) return "replay";
    throw new InvalidArgumentError("increment.sequence", `skips ahead: expected ${this.highest + 1n} (or a sequence already sent), got ${sequence}`);
  }

  /** An increment was charged: the hold shrinks (a replay changes nothing), and a charge that may not proceed stops the stream. */
  charged(charge: MeterCharge): MeterStop | undefined {
    if (!charge.replayed) this.holdLeft = max0(this.holdLeft - charge.chargedMicros);
    if (charge.proceed || !this.hold) return undefined;
    if (charge.budgetId) return this.budgetExhausted(charge.budgetId);
    const reason = limitReason(this.hold.unit);
    return this.decide(reason, LIMIT_MESSAGE[reason as "NEGATIVE_LIMIT" | "SPEND_CAP"]);
  }

  /**
   * A commit left the account's unit with `roomMicros` beyond every open hold
   * (0 or less). The stream stops when its own hold is used up too: what it
   * holds it may still use.
   */
  roomExhausted(unit: string, roomMicros: bigint): MeterStop | undefined {
    if (!this.hold || unit !== this.hold.unit || roomMicros + this.holdLeft > 0n) return undefined;
    const reason = limitReason(unit);
    return this.decide(reason, `${LIMIT_MESSAGE[reason as "NEGATIVE_LIMIT" | "SPEND_CAP"]} (another charge used it)`);
  }

  /**
   * A hard budget over the stream's attribution is used up (its own charge,
   * another caller's, or support lowering it): nothing more can be charged
   * under it, the stream's own hold included.
   */
  budgetExhausted(budgetId: string): MeterStop | undefined {
    if (!this.hold) return undefined;
    return this.decide("BUDGET", `the budget ${budgetId} is used up`);
  }

  /** The account's status as the ledger last heard it. */
  accountStatus(status: "active" | "suspended"): MeterStop | undefined {
    return status === "suspended" ? this.decide("ACCOUNT_SUSPENDED", "the account is suspended") : undefined;
  }

  /** When the hold expires (undefined: nothing to watch). */
  get expiresAt(): Date | undefined {
    return this.hold?.status === "open" ? this.hold.expiresAt : undefined;
  }

  /** The clock reached `now`: a hold past its expiry stops the stream. */
  tick(now: Date): MeterStop | undefined {
    if (this.hold?.status === "expired") return this.decide("HOLD_EXPIRED", "the hold has expired; further usage is charged without a reservation");
    const expiresAt = this.expiresAt;
    if (!expiresAt || now < expiresAt) return undefined;
    this.holdLeft = 0n;
    return this.decide("HOLD_EXPIRED", `the hold expired at ${expiresAt.toISOString()}; further usage is charged without a reservation`);
  }

  /** The stream closes its work (the final charge or the release is being posted). */
  close(): void {
    if (this.closed) throw new InvalidArgumentError("close", "the stream is already closed");
    this.closed = true;
  }

  /** The close's write failed: the stream holds the work again (what it leaves when it ends is released after the grace period). */
  closeFailed(): void {
    this.closed = false;
  }

  /** A stop is decided once per stream, and not once its work is closed (by this stream or before a reconnect). */
  private decide(reason: MeterStopReason, message: string): MeterStop | undefined {
    if (this.stop || this.closed || this.hold?.status === "charged" || this.hold?.status === "released") return undefined;
    this.stop = { reason, message };
    return this.stop;
  }
}

const max0 = (value: bigint) => (value > 0n ? value : 0n);
