import type { KeyOwner } from "./rules/idempotency.js";
import type { RunningPricing } from "./rules/running-total.js";
import type { BudgetTerms, PoolKind, WorkKind } from "./state.js";

/**
 * The commands the state machine decides, after pricing: amounts are
 * already micro-units of one unit. `requestHash` binds the idempotency key
 * to the caller's request (see fingerprint.ts).
 */
interface Keyed {
  accountId: string;
  idempotencyKey: string;
  requestHash: string;
  /**
   * `ledger`: the ledger keyed this write itself, for a piece of work (a
   * metering tick's charge, a Meter stream's writes: rules/idempotency.ts
   * `workKey`), so its key has the prefix a caller's may not. Never set from a
   * request; absent: the caller's key.
   */
  keyOwner?: KeyOwner;
}

/** A support write: who made it, for whom, and why (both required); the person acted for is recorded, not part of the request. */
export interface SupportKeyed extends Keyed {
  reason: string;
  actor: string;
  onBehalfOf?: string;
  /** The call's W3C traceparent: the events the change causes continue its trace (not part of the request's fingerprint). */
  traceparent?: string;
}

export interface Eligibility {
  allowed: boolean;
  metered: boolean;
  reason: string;
}

export interface AuthorizeCommand extends Keyed, MayBeUnpriced {
  type: "authorize";
  unit: string;
  bucket: string;
  amountMicros: bigint;
  ttlMs: number;
  attribution: Record<string, string>;
  rateTableVersion: bigint;
  /** The plan's eligibility rules, decided for where the work runs. */
  eligibility: Eligibility;
  /** The kind of work asked for (empty: none): its limits apply (rules/kind-limits.ts). */
  workKind?: string;
  /** The call's trace, for what it writes besides the hold (an auto reload's entry and event); not part of the request's fingerprint. */
  traceId?: string;
  traceparent?: string;
}

/**
 * A call whose usage or estimate does not price at the version in effect
 * (`unpriced`, NOT_FOUND: a rate that version lacks, such as a model it
 * dropped); its unit and amount then mean nothing. A retry of an earlier call
 * with its key is answered as that call was. A call on a hold pinned to
 * another version is refused RATE_TABLE_PINNED, and the use case prices it
 * again at that one, which may have the rate; any other with `unpriced`.
 */
interface MayBeUnpriced {
  unpriced?: LedgerError;
}

export interface ChargeCommand extends Keyed, MayBeUnpriced {
  type: "charge";
  holdId: string | null;
  unit: string;
  bucket: string;
  /** Zero for unmetered usage (journaled at zero). A charge on a hold with `running` is priced by the running total instead. */
  amountMicros: bigint;
  final: boolean;
  attribution: Record<string, string>;
  rateTableVersion: bigint;
  traceparent: string;
  traceId: string;
  /** The usage and the rate table it was priced at: a charge on a hold rounds the hold's running total once (rules/running-total.ts). */
  running?: RunningPricing;
  /** Late usage: when it happened (epoch ms, checked by rules/late-usage.ts); absent: now. */
  occurredAtMs?: number;
  /** Who called (the authenticated principal) and for whom: recorded on the entry; not part of the fingerprint. Absent: not known (a metering tick). */
  actor?: string;
  onBehalfOf?: string;
}

export interface ReleaseCommand extends Keyed {
  type: "release";
  holdId: string;
}

/** Reserves more on an open hold and/or moves its expiry later (a long streamed response). */
export interface ExtendHoldCommand extends Keyed, MayBeUnpriced {
  type: "extendHold";
  holdId: string;
  /** The unit the added estimate is priced in (must be the hold's); empty when nothing is added. */
  unit: string;
  /** Added to what the hold reserves; 0 keeps the amount. */
  addMicros: bigint;
  /** The rate table version (sequence) the estimate was priced at: it must be the hold's (RATE_TABLE_PINNED); absent when nothing is added. */
  rateTableVersion?: bigint;
  /** The hold expires this long from now, unless it already expires later; 0 keeps the expiry. */
  ttlMs: number;
}

export interface GrantCommand extends SupportKeyed {
  type: "grant";
  unit: string;
  kind: PoolKind;
  amountMicros: bigint;
  expiresAtMs: number | null;
  priority: number;
  traceId: string;
  reload: { belowMicros: bigint; toMicros: bigint; cooldownMs: number } | null;
  /** With `reload`: the plan's add-on price each reload is billed at (USD micros per whole unit); absent: reloads carry no price. Not part of the request. */
  reloadPriceUsdMicros?: bigint;
}

export interface AdjustCommand extends SupportKeyed {
  type: "adjust";
  poolId: string;
  /** Signed: positive credits the pool, negative debits it. */
  amountMicros: bigint;
  traceId: string;
}

/** Returns a charge to the pools it drew from (support; reason required). */
export interface ReverseCommand extends SupportKeyed {
  type: "reverse";
  entryId: bigint;
  traceId: string;
}

/** Sets (or changes) the budget of one unit and scope (support; reason required). */
export interface SetBudgetCommand extends SupportKeyed, BudgetTerms {
  type: "setBudget";
}

/**
 * Removes a budget (support; reason required). What its scope spends stops
 * counting against it; setting it again starts a new budget.
 */
export interface DeleteBudgetCommand extends SupportKeyed {
  type: "deleteBudget";
  budgetId: string;
}

export interface UnitSetup {
  unit: string;
  allotmentMicros: bigint;
  negativeLimitMicros: bigint;
  lowCreditLimitMicros: bigint;
  kind: "monthly" | "spend_cap";
}

/** Opens the account's cycle or rolls it over (idempotent: a repeated or late one changes nothing more). */
export interface RollOverCommand {
  type: "rollOver";
  accountId: string;
  planId: string;
  planVersion: bigint;
  cycleStartMs: number;
  cycleEndMs: number;
  units: UnitSetup[];
  signupGrants: { unit: string; amountMicros: bigint; expiresAtMs: number }[];
}

export interface StartWorkCommand extends Keyed {
  type: "startWork";
  kind: WorkKind;
  workId: string;
  unit: string;
  replicas: number;
  attribution: Record<string, string>;
  endpoint: string;
  /** What one second of the work is, as priced (stored for the ticks to price again). */
  usage?: Record<string, unknown>;
  labels?: Record<string, string>;
  context?: Record<string, string>;
  /**
   * The plan's eligibility rules, decided for where the work runs (as
   * Authorize's): not allowed is denied NOT_ELIGIBLE after the key is
   * recalled; not metered starts whatever the balance and is never charged.
   * Absent: allowed and metered.
   */
  eligibility?: Eligibility;
  /** The kind of work (empty: none): its limits apply (rules/kind-limits.ts). */
  workKind?: string;
  /** The rate table it was priced with (stored for the ticks to price there, whatever plan the account moves to). */
  rateTableId?: string;
}

/**
 * A metering tick: charges [fromMs, toMs) of a run's or deployment's time,
 * priced by the caller, and moves the work to `nextState` / `replicas`.
 */
export interface MeterCommand {
  type: "meter";
  accountId: string;
  workId: string;
  fromMs: number;
  toMs: number;
  amountMicros: bigint;
  /** The unit the tick is priced in (default: the work's). */
  unit?: string;
  bucket: string;
  rateTableVersion: bigint;
  nextState: string | null;
  replicas: number | null;
  traceparent: string;
  traceId: string;
  /** The work's running totals after this tick: what has been priced so far, and its rounded price (unchanged when absent). */
  pricedQuantity?: bigint;
  pricedMicros?: bigint;
  /** The caller's call (PauseRun, EndRun, Scale, Undeploy) this tick carries out: its key is recorded with the tick. */
  call?: WorkCall;
  /** Who made the tick happen, recorded on its entry: that call's principal (and whom it acted for); absent: the ledger's own tick (`system`). */
  actor?: string;
  onBehalfOf?: string;
}

/**
 * A call on a run or deployment, keyed: its record is written in the same
 * transaction as the state change it makes, and a repeat answers it.
 */
export interface WorkCall {
  idempotencyKey: string;
  requestHash: string;
  /** `pause_run`, `resume_run`, `end_run`, `scale_deployment`, `undeploy`. */
  operation: string;
}

/** What a call on a run or deployment answers, and its key records: the work as the call left it. */
export interface WorkCallAnswer {
  state: string;
  chargedThisCallMicros: bigint;
  totalChargedMicros: bigint;
  activeMs: number;
  replicas: number;
  /** False when the call's charge could not be paid in full. */
  proceed: boolean;
}

/** A paused run resumes: a new active period starts now, so the pause is never charged. Any other state is left as it is. */
export interface ResumeWorkCommand {
  type: "resumeWork";
  accountId: string;
  workId: string;
  call?: WorkCall;
}

/** The sweepers: expired holds and pools of one account, without waiting for its next write. */
export interface ExpireCommand {
  type: "expireHolds" | "expirePools";
  accountId: string;
}

export type Command =
  | AuthorizeCommand | ChargeCommand | ReleaseCommand | ExtendHoldCommand | GrantCommand | AdjustCommand | ReverseCommand
  | RollOverCommand | StartWorkCommand | MeterCommand | ResumeWorkCommand | ExpireCommand | SetBudgetCommand | DeleteBudgetCommand;

export type DenialReason =
  | "ACCOUNT_SUSPENDED" | "NOT_ELIGIBLE" | "BUDGET_EXCEEDED" | "SPEND_CAP_REACHED" | "FREE_CREDITS_EXPIRED" | "BELOW_LOW_CREDIT_LIMIT" | "INSUFFICIENT_CREDITS";

export interface AuthorizeAnswer {
  allowed: boolean;
  reason: DenialReason | null;
  message: string;
  holdId: string | null;
  amountMicros: bigint;
  /** balance − held after the hold (before it, when denied). */
  availableMicros: bigint;
  expiresAtMs: number | null;
  metered: boolean;
  /** Denied at zero and the kind allows drafts: the work may be saved as a draft only. */
  draftsOnly?: boolean;
}

export interface ChargeAnswer {
  entryId: bigint;
  chargedMicros: bigint;
  uncollectedMicros: bigint;
  releasedMicros: bigint;
  /** The unit's balance (live pools) after the charge and any auto reload; holds not subtracted. */
  balanceMicros: bigint;
  proceed: boolean;
  /** Set when a hard budget is why the charge collected less or `proceed` is false: the budget's id. */
  budgetId?: string;
}

export interface ReleaseAnswer {
  releasedMicros: bigint;
  status: "charged" | "released" | "expired";
}

export interface ExtendHoldAnswer {
  allowed: boolean;
  reason: DenialReason | null;
  message: string;
  /** What the hold reserves in all after the call (unchanged when denied). */
  amountMicros: bigint;
  expiresAtMs: number;
  /** balance − held after the extension (before it when denied). */
  availableMicros: bigint;
}

export interface GrantAnswer {
  poolId: string;
  entryId: bigint;
  balanceMicros: bigint;
}

export interface AdjustAnswer {
  entryId: bigint;
  balanceMicros: bigint;
  /** The Adjust took a reloading add-on's purchase back and turned its reload off (rules/auto-reload.ts `stopsReload`). */
  reloadStopped?: true;
}

export interface ReverseAnswer {
  entryId: bigint;
  returnedMicros: bigint;
  /** The unit's balance after the reversal (live pools, holds not subtracted). */
  balanceMicros: bigint;
}

export interface RollOverAnswer {
  rolled: boolean;
  cycleStartMs: number;
}

export interface StartWorkAnswer {
  allowed: boolean;
  reason: DenialReason | null;
  availableMicros: bigint;
  /**
   * The rule's own words: BUDGET_EXCEEDED (which budget refused the start,
   * with its figures), ACCOUNT_SUSPENDED, NOT_ELIGIBLE (the plan rule's
   * reason), or why allowed work is unmetered.
   */
  message?: string;
  /** False when the work is not metered (NOT_ELIGIBLE, or the plan leaves it unmetered). Absent in answers recorded by earlier releases. */
  metered?: boolean;
  /** As AuthorizeAnswer.draftsOnly. */
  draftsOnly?: boolean;
}

export interface MeterAnswer {
  stale: boolean;
  state: string;
  charge: ChargeAnswer | null;
  /** With a `call`: what it answers (a repeat of the call answers the recorded one, and ticks nothing). */
  work?: WorkCallAnswer;
}

/** A budget as it now counts: used in its period, and what open holds reserve against it. */
export interface BudgetAnswer extends BudgetTerms {
  budgetId: string;
  usedMicros: bigint;
  reservedMicros: bigint;
}

export interface ResumeWorkAnswer {
  /** The work's state after the call (`running` when it resumed or was running). */
  state: string;
  /** The hard budget with no room left that kept a paused run paused. */
  budgetId?: string;
  /** With a `call`: what it answers. */
  work?: WorkCallAnswer;
}

export interface ExpireAnswer {
  expired: number;
}

export interface AnswerOf {
  authorize: AuthorizeAnswer;
  charge: ChargeAnswer;
  release: ReleaseAnswer;
  extendHold: ExtendHoldAnswer;
  grant: GrantAnswer;
  adjust: AdjustAnswer;
  reverse: ReverseAnswer;
  rollOver: RollOverAnswer;
  startWork: StartWorkAnswer;
  meter: MeterAnswer;
  resumeWork: ResumeWorkAnswer;
  expireHolds: ExpireAnswer;
  expirePools: ExpireAnswer;
  setBudget: BudgetAnswer;
  /** The budget as it counted when it was removed. */
  deleteBudget: BudgetAnswer;
}

export type LedgerErrorCode = "INVALID_ARGUMENT" | "NOT_FOUND" | "ALREADY_EXISTS" | "FAILED_PRECONDITION";

/** A command the state machine refused; it wrote nothing. `field` names the request field for INVALID_ARGUMENT (and a FAILED_PRECONDITION about one). */
export interface LedgerError {
  code: LedgerErrorCode;
  reason: string;
  message: string;
  field?: string;
  /** NOT_FOUND: what was not found, and its id. */
  missing?: { what: string; id: string };
  /** ALREADY_EXISTS: the idempotency key. */
  key?: string;
  /** FAILED_PRECONDITION `RATE_TABLE_PINNED`: the rate table version (sequence) the hold was authorized at, to price the call at. */
  pinnedRateTable?: bigint;
}

export type Result<T> = { ok: true; value: T; replayed: boolean } | { ok: false; error: LedgerError };

export function invalid(field: string, problem: string): LedgerError {
  return { code: "INVALID_ARGUMENT", reason: "INVALID_FIELD", field, message: `${field}: ${problem}` };
}

export function notFound(what: string, id: string): LedgerError {
  return { code: "NOT_FOUND", reason: `${what.toUpperCase().replace(/\s+/g, "_")}_NOT_FOUND`, message: `${what} not found: ${id}`, missing: { what, id } };
}

/** `field`: the request field the refusal is about, when one is (it goes in the error's metadata). */
export function precondition(reason: string, message: string, field?: string): LedgerError {
  return { code: "FAILED_PRECONDITION", reason, message, ...(field ? { field } : {}) };
}
