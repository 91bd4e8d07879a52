/**
 * # The ledger's state machine
 *
 * `execute(state, commands, { nowMs, ids })` decides a batch: for each
 * command, in order, its result and the writes to make (journal entries with
 * their lines, pool and hold changes, outbox events, idempotency records).
 * It reads nothing but its arguments and keeps no clock: the store reads and
 * locks the accounts, the caller supplies the time and new ids. Each command
 * is checked completely before it produces a write, so a refused command
 * writes nothing and never spoils the batch; the next command sees the writes
 * of the ones before it.
 *
 * ## Order of checks (the first that applies answers)
 *
 * | # | result | code | when |
 * |---|---|---|---|
 * | 1 | error | `INVALID_ARGUMENT` (`field`) | a field is missing or out of range: `idempotency_key` (1–128 chars; a caller's not starting `meter:`, the ledger's own keys: rules/idempotency.ts), `amount_micros`, `ttl_ms`, `hold_id`, `pool_id`, `reason`, `actor`, `expires_at`, `reload_*`, `replicas`, `work_id`; a Grant's `pool_kind` that is not `bonus`, `add_on` or `free_grant` |
 * | 2 | error | `NOT_FOUND` | the account has no open cycle, the unit no balance, or the hold, pool, work or entry is not the account's |
 * | 3 | replay | — | the key was used with the same request: the recorded answer, nothing written (whatever the time: a Grant's `expires_at` is checked after this) |
 * | 3 | error | `ALREADY_EXISTS` `IDEMPOTENCY_KEY_REUSED` | the key was used with another request |
 * | 4 | — | — | expired holds of the account give back what they reserve and expired pools close (before any write, Grant and Adjust included) |
 * | 5 | error | `INVALID_ARGUMENT` `expires_at` | a Grant whose expiry is not in the future |
 * | 5 | error | `FAILED_PRECONDITION` | `UNIT_MISMATCH` (Charge or ExtendHold in another unit than its hold), `RATE_TABLE_PINNED` (Charge or ExtendHold on a hold priced at another rate table version than the hold's: the use case prices it again at the hold's, rules/running-total.ts), `HOLD_USAGE_LINES` (a Charge naming a 101st different thing on one hold: its running total is bounded, rules/running-total.ts), `HOLD_CLOSED` (Charge or ExtendHold on a charged or released hold), `HOLD_EXPIRED` (ExtendHold of an expired hold), `BALANCE_LIMIT` (Grant, Adjust or ReverseCharge past MAX_BALANCE_MICROS, rules/grants.ts), `POOL_CLOSED` (Adjust of a closed pool), `ADJUSTMENT_BELOW_LIMIT`, `NO_POOL` (an overdraft with no pool to carry it), `WORK_EXISTS`, `NOT_A_CHARGE` (ReverseCharge of an entry that is not a charge), `ALREADY_REVERSED` (of a charge reversed before), `POOL_CLOSED` (of a charge drawn from a pool that has closed since) |
 * | 6 | denial | `ACCOUNT_SUSPENDED` | Authorize, StartWork |
 * | 7 | denial | `NOT_ELIGIBLE` | Authorize, StartWork: the plan rule's reason in `message` (the caller decides the rules for where the work runs and passes the decision in the command) |
 * | 8 | denial | `BUDGET_EXCEEDED` | Authorize, ExtendHold, StartWork: the amount does not fit in a hard budget over its attribution (rules/budgets.ts) |
 * | 9 | denial | `SPEND_CAP_REACHED` / `FREE_CREDITS_EXPIRED` / `BELOW_LOW_CREDIT_LIMIT` / `INSUFFICIENT_CREDITS` | the amount does not fit (rules/denial.ts) |
 * | 10 | answer | OK | |
 *
 * Answers and denials are recorded under the idempotency key; errors record
 * nothing, so the key stays free for a corrected request.
 *
 * ## The contract
 *
 * 1. Expired holds are returned before any write on the account, Grant and Adjust included (rules/holds.ts).
 * 2. An entry has exactly one line per pool: an overdraft is added to the first pool's draw (rules/drawdown.ts).
 * 3. A Charge on an expired hold is accepted as usage above the hold (the work was done): released 0, the hold stays `expired` and its `charged_micros` grows; a Charge on a charged or released hold is `HOLD_CLOSED`.
 * 4. A Release of a hold that is no longer open answers OK with `released_micros` 0 and the hold's status (releasing is idempotent by state), while a Charge on a charged or released hold is `FAILED_PRECONDITION` (it would bill twice).
 * 5. `proceed` is true only when the whole charge was collected and something is still left above the negative limit (auto reload included): at exactly the limit it is false, because the next charge could collect nothing.
 * 6. Draw-down order: the cycle's pool (`monthly` or `spend_cap`) first, then the plan's order of kinds (kinds it does not name last), then the lower priority number, then the pool expiring first (expiring before non-expiring), then the oldest; an overdraft is carried by the first pool in that order.
 * 7. An Authorize is allowed only when its estimate fits in balance − held: a hold never reaches into the negative limit, which covers only usage above holds.
 * 9. Budgets (rules/budgets.ts): open holds reserve against the budgets over their attribution as against the balance; a hard budget is never passed — a Charge collects at most its room and names it (`budgetId`) when it collected less or may not proceed; every budget counts what charges collected and emits `budget_crossed` once per threshold per period.
 * 10. A Charge (or a metering tick) that takes its unit's balance from above −negative_limit to at or below it writes a `negative_limit_reached` event (once per crossing: rules/limits.ts), which the account's admins hear of by email and webhook; not for a unit under a BYOM spend cap, whose `spend_cap_reached` says it.
 * 8. `AuthorizeResponse.available_micros` is balance − held after the new hold (before it when denied; 0 when the balance was not consulted); Charge, Grant and Adjust `balance_micros` is the unit's balance (live pools, holds not subtracted); `Hold.charged_micros` includes usage above the hold; a pool's `granted_micros` counts its grant, auto reloads, spend-cap changes and Adjusts (down to zero; not on a spend-cap pool, which follows the plan's cap).
 *
 * Also decided here (the running SQL differs): denials by suspension or
 * eligibility are recorded under the key like any answer; a debiting Adjust
 * may not take balance − held (not only the balance) below the negative
 * limit; an Adjust of a closed pool is `POOL_CLOSED`; a replayed Grant answers
 * after its `expires_at` has passed; a charge on a hold consumes the hold only
 * by what it collected, so `held` always equals the open holds' remainders;
 * `proceed` counts an auto reload the charge triggered; sweeps and metering
 * ticks return expired holds and close expired pools like any other write.
 */
import { unitTotals, livePools, pastExpiry } from "./balance.js";
import { formatAmount, type Unit } from "@tollgate/rating";
import {
  invalid, notFound, precondition,
  type AdjustCommand, type AnswerOf, type AuthorizeAnswer, type AuthorizeCommand, type BudgetAnswer, type ChargeAnswer, type ChargeCommand, type Command,
  type ExtendHoldCommand, type GrantCommand, type LedgerError, type MeterCommand, type ReleaseCommand, type Result, type ResumeWorkCommand, type ReverseCommand, type RollOverCommand, type WorkCallAnswer,
  type DeleteBudgetCommand, type SetBudgetCommand, type StartWorkCommand, type SupportKeyed,
} from "./commands.js";
import { budgetAnswer, budgetCap, budgetIdOf, chargeBudgets, hardRoom, liftedBudget, liftedByNewCycle, reservationPasses, reverseBudgets, scopeMovedBy, setBudget } from "./rules/budgets.js";
import { autoReload, stopsReload } from "./rules/auto-reload.js";
import { deny } from "./rules/denial.js";
import { drawDown, drawdownOrder } from "./rules/drawdown.js";
import { adjustedGrant, balanceHasRoom, grantPool, MAX_BALANCE_MICROS, poolByGrantKey, WHOLE_RUNS_PROBLEM, wholeAmount } from "./rules/grants.js";
import { chargeHold, expireHolds, extension, isClosedByCaller, remaining, reserved } from "./rules/holds.js";
import { checkKey, keyReused, recall, remember, workKey } from "./rules/idempotency.js";
import { limitsFor, newWork, stopsRunningWork, type AppliedLimits } from "./rules/kind-limits.js";
import { adjustFits, collectable, holdFits, reachesNegativeLimit } from "./rules/limits.js";
import { expirePools } from "./rules/pool-expiry.js";
import { reversal, reversedCharge } from "./rules/reversal.js";
import { rollOver } from "./rules/rollover.js";
import { pinnedElsewhere, runningCharge } from "./rules/running-total.js";
import { crossings, reached, recessions } from "./rules/thresholds.js";
import { BUDGET_SCOPES, POOL_KINDS, traceOf, type AccountState, type BatchContext, type LedgerState } from "./state.js";
import { applyWrites, cloneAccount, type Line, type Write } from "./writes.js";

/** The pool kinds a Grant makes. */
const GRANTED_KINDS: readonly string[] = POOL_KINDS.filter((kind) => kind !== "monthly" && kind !== "spend_cap");

export const MAX_HOLD_TTL_MS = 24 * 60 * 60_000;
export const STOP_MESSAGE = "You've used all your available credits. Please add more credits to your account to continue.";
export const BUDGET_STOP_MESSAGE = "This work has used all of its budget. Ask support to raise the budget to continue.";

export interface Outcome {
  result: Result<unknown>;
  /** What this command wrote (none when it was refused or replayed). */
  writes: Write[];
}

export interface BatchOutcome {
  outcomes: Outcome[];
  /** Every command's writes, in order: what the store applies in one transaction. */
  writes: Write[];
  /** The state after the batch (the input is not changed). */
  state: LedgerState;
}

/** Decides a batch of commands over the state the store read. */
export function execute(state: LedgerState, commands: readonly Command[], ctx: BatchContext): BatchOutcome {
  const working: LedgerState = new Map();
  const outcomes: Outcome[] = [];
  const writes: Write[] = [];
  for (const command of commands) {
    let account = working.get(command.accountId);
    if (!account) {
      const read = state.get(command.accountId);
      if (read) working.set(command.accountId, (account = cloneAccount(read)));
    }
    const decided = account ? decide(account, command, ctx) : { result: fail(notFound("account", command.accountId)), account: undefined, writes: [] };
    if (decided.result.ok && decided.account) working.set(command.accountId, decided.account);
    outcomes.push({ result: decided.result, writes: decided.writes });
    writes.push(...decided.writes);
  }
  for (const [id, account] of state) if (!working.has(id)) working.set(id, account);
  return { outcomes, writes, state: working };
}

/** One command alone (a batch of one), typed by its kind. */
export function executeOne<C extends Command>(state: LedgerState, command: C, ctx: BatchContext): { result: Result<AnswerOf[C["type"]]>; writes: Write[]; state: LedgerState } {
  const batch = execute(state, [command], ctx);
  return { result: batch.outcomes[0]!.result as Result<AnswerOf[C["type"]]>, writes: batch.writes, state: batch.state };
}

interface Decision {
  result: Result<unknown>;
  /** The account after the command's writes (a copy; undefined when refused). */
  account: AccountState | undefined;
  writes: Write[];
}

function fail(error: LedgerError): Result<never> {
  return { ok: false, error };
}

const refused = (error: LedgerError): Decision => ({ result: fail(error), account: undefined, writes: [] });

/**
 * A command that passed its checks against the state: the account copy with
 * the lazy expiry applied, and the writes so far.
 */
class Work {
  readonly writes: Write[] = [];
  constructor(readonly account: AccountState) {}

  add(writes: Write[]): void {
    applyWrites(new Map([[this.account.accountId, this.account]]), writes);
    this.writes.push(...writes);
  }

  done(value: unknown): Decision {
    return { result: { ok: true, value, replayed: false }, account: this.account, writes: this.writes };
  }
}

/**
 * Expired holds and pools of the account, before any write on it. When there
 * are some, they go to a copy, so a refusal after them writes nothing; the
 * rules themselves check everything before their first write.
 */
function lazyExpiry(account: AccountState, ctx: BatchContext): Work {
  const expiredHolds = expireHolds(account, ctx.nowMs);
  const expiredPools = expirePools(account, ctx);
  if (expiredHolds.length === 0 && expiredPools.length === 0) return new Work(account);
  const work = new Work(cloneAccount(account));
  work.add(expiredHolds);
  work.add(expiredPools); // pools do not depend on holds
  work.add(crossedByExpiry(work.account, expiredPools, ctx));
  return work;
}

type Keyed = AuthorizeCommand | ChargeCommand | ReleaseCommand | ExtendHoldCommand | GrantCommand | AdjustCommand | ReverseCommand | StartWorkCommand | SetBudgetCommand | DeleteBudgetCommand;

/**
 * The frame every keyed command shares: field checks, what it names, the
 * idempotency key, the lazy expiry, then its own rule; the answer recorded.
 */
function keyed<C extends Keyed>(
  account: AccountState,
  command: C,
  ctx: BatchContext,
  checks: { fields: () => LedgerError | null; found: () => LedgerError | null; priced?: () => LedgerError | null },
  rule: (work: Work) => LedgerError | { value: unknown },
): Decision {
  const invalidField = checkKey(command.idempotencyKey, command.keyOwner) ?? checks.fields();
  if (invalidField) return refused(invalidField);
  if (account.cycle === null) return refused(notFound("account", account.accountId));
  const missing = checks.found();
  if (missing) return refused(missing);
  const recalled = recall(account, command.idempotencyKey, command.requestHash);
  if (recalled && "error" in recalled) return refused(recalled.error);
  if (recalled) return { result: { ok: true, value: recalled.replay, replayed: true }, account, writes: [] };
  // After the key: a retry is answered as the call was, even once the rate it was priced at is gone (commands.ts `MayBeUnpriced`).
  const unpricedCall = checks.priced?.();
  if (unpricedCall) return refused(unpricedCall);
  const work = lazyExpiry(account, ctx);
  const decided = rule(work);
  if (!("value" in decided)) return refused(decided);
  work.add([remember(account.accountId, command.idempotencyKey, operationOf(command), command.requestHash, decided.value, ctx.nowMs)]);
  return work.done(decided.value);
}

/** The operation a key's record names (support search shows it): a start says what it started, as earlier releases recorded it. */
function operationOf(command: Keyed): string {
  return command.type === "startWork" ? `start_${command.kind}` : command.type;
}

function decide(account: AccountState, command: Command, ctx: BatchContext): Decision {
  switch (command.type) {
    case "authorize":
      return keyed(account, command, ctx, {
        fields: () => authorizeFields(command),
        found: () => (command.unpriced ? null : unitFound(account, command.unit)),
        priced: () => command.unpriced ?? null,
      }, (work) => authorize(work, command, ctx));
    case "charge":
      return keyed(account, command, ctx, {
        fields: () => (command.amountMicros < 0n ? invalid("usage", "must not price below zero") : null),
        found: () =>
          (command.unpriced ? null : unitFound(account, command.unit)) ??
          (command.holdId !== null && !account.holds.has(command.holdId) ? notFound("hold", command.holdId) : null),
        priced: () => unpriced(account, command, "the usage"),
      }, (work) => charge(work, command, ctx));
    case "release":
      return keyed(account, command, ctx, {
        fields: () => (command.holdId ? null : invalid("hold_id", "is required")),
        found: () => (account.holds.has(command.holdId) ? null : notFound("hold", command.holdId)),
      }, (work) => release(work, command, ctx));
    case "extendHold":
      return keyed(account, command, ctx, {
        fields: () => extendFields(command),
        found: () => (account.holds.has(command.holdId) ? null : notFound("hold", command.holdId)),
        priced: () => unpriced(account, command, "the estimate"),
      }, (work) => extendHold(work, command, ctx));
    case "grant":
      return keyed(account, command, ctx, { fields: () => grantFields(command), found: () => unitFound(account, command.unit) }, (work) => grant(work, command, ctx));
    case "adjust":
      return keyed(account, command, ctx, {
        fields: () => adjustFields(command),
        found: () => (account.pools.has(command.poolId) ? null : notFound("pool", command.poolId)),
      }, (work) => adjust(work, command, ctx));
    case "reverse":
      return keyed(account, command, ctx, {
        fields: () => (command.entryId <= 0n ? invalid("entry_id", "is required") : supportFields(command)),
        found: () => (account.charges.has(String(command.entryId)) || account.otherEntries.has(String(command.entryId)) ? null : notFound("entry", String(command.entryId))),
      }, (work) => reverse(work, command, ctx));
    case "startWork":
      return keyed(account, command, ctx, {
        fields: () => (!command.workId ? invalid(command.kind === "run" ? "run_id" : "deployment_id", "is required") : !Number.isInteger(command.replicas) || command.replicas < 1 ? invalid("replicas", "must be at least 1") : null),
        found: () => unitFound(account, command.unit),
      }, (work) => startWork(work, command, ctx));
    case "setBudget":
      return keyed(account, command, ctx, { fields: () => budgetFields(command), found: () => unitFound(account, command.unit) }, (work) => setBudgetOf(work, command, ctx));
    case "deleteBudget":
      // The budget is looked for after a replay is recalled: once removed, a repeated call answers as the first did.
      return keyed(account, command, ctx, { fields: () => deleteBudgetFields(command), found: () => null }, (work) => deleteBudgetOf(work, command));
    case "rollOver":
      return rollOverAccount(account, command, ctx);
    case "meter":
      return workCall(account, command, ctx, meter);
    case "resumeWork":
      return workCall(account, command, ctx, resumeWork);
    case "expireHolds":
    case "expirePools": {
      // A sweep is a write on the account like any other: both kinds of expiry run; the answer counts its own.
      const work = lazyExpiry(account, ctx);
      const expired = (w: Write) => (command.type === "expireHolds" ? w.type === "holdChange" : w.type === "outbox" && w.event.kind === "pool_expired");
      return work.done({ expired: work.writes.filter(expired).length });
    }
  }
}

/** The limits that apply to work of `workKind` in `unit` on this account. */
function appliedLimits(account: AccountState, unit: string, workKind: string | undefined): AppliedLimits {
  return limitsFor(account.units.get(unit), account.facts.kindLimits, unit, workKind ?? "");
}

/** Events of work name its kind when it has one. */
function workKindPayload(workKind: string | undefined): { work_kind?: string } {
  return workKind ? { work_kind: workKind } : {};
}

function unitFound(account: AccountState, unit: string): LedgerError | null {
  return account.units.has(unit) ? null : notFound("balance", `${account.accountId} ${unit}`);
}

/** An unpriced call on a hold (commands.ts `MayBeUnpriced`): RATE_TABLE_PINNED when the hold is pinned to another version, else its own refusal. */
function unpriced(account: AccountState, c: ChargeCommand | ExtendHoldCommand, what: string): LedgerError | null {
  if (!c.unpriced) return null;
  const hold = c.holdId === null ? undefined : account.holds.get(c.holdId);
  return (hold && c.rateTableVersion !== undefined && pinnedElsewhere(hold, c.rateTableVersion, what)) || c.unpriced;
}

/** What is wrong with a hold's ttl (an Authorize's at least 1 ms, an ExtendHold's 0 for none), or null. */
export function holdTtlProblem(ttlMs: number, least = 1): string | null {
  return !Number.isInteger(ttlMs) || ttlMs < least || ttlMs > MAX_HOLD_TTL_MS ? `must be between ${least} and ${MAX_HOLD_TTL_MS}` : null;
}

function authorizeFields(c: AuthorizeCommand): LedgerError | null {
  if (c.amountMicros < 0n) return invalid("estimate", "must not price below zero");
  const ttl = holdTtlProblem(c.ttlMs);
  return ttl ? invalid("ttl_ms", ttl) : null;
}

function extendFields(c: ExtendHoldCommand): LedgerError | null {
  if (!c.holdId) return invalid("hold_id", "is required");
  if (c.addMicros < 0n) return invalid("estimate", "must not price below zero");
  const ttl = holdTtlProblem(c.ttlMs, 0);
  if (ttl) return invalid("ttl_ms", ttl);
  if (c.addMicros === 0n && c.ttlMs === 0 && !c.unpriced) return invalid("ttl_ms", "nothing to extend: give an estimate or a ttl");
  return null;
}

function grantFields(c: GrantCommand): LedgerError | null {
  if (c.amountMicros <= 0n) return invalid("amount_micros", "must be positive");
  if (!wholeAmount(c.unit, c.amountMicros)) return invalid("amount_micros", WHOLE_RUNS_PROBLEM);
  // The cycle's pools (monthly, spend_cap) are opened by rollover, once per cycle, and closed by the next one; a Grant makes the others.
  if (!GRANTED_KINDS.includes(c.kind)) return invalid("pool_kind", `must be one of ${GRANTED_KINDS.join(", ")}`);
  const unsigned = supportFields(c);
  if (unsigned) return unsigned;
  if (!Number.isInteger(c.priority)) return invalid("priority", "must be an integer");
  if (c.reload) {
    if (c.kind !== "add_on") return invalid("reload_to_micros", "auto reload is for add-on pools");
    if (c.reload.toMicros <= c.reload.belowMicros) return invalid("reload_to_micros", "must be above reload_below_micros");
    if (c.reload.belowMicros < 0n) return invalid("reload_below_micros", "must not be negative");
    if (c.reload.cooldownMs < 0) return invalid("reload_cooldown_ms", "must not be negative");
    if (!wholeAmount(c.unit, c.reload.belowMicros)) return invalid("reload_below_micros", WHOLE_RUNS_PROBLEM);
    if (!wholeAmount(c.unit, c.reload.toMicros)) return invalid("reload_to_micros", WHOLE_RUNS_PROBLEM);
  }
  return null;
}

/** Who made a support write and why: both required. */
function supportFields(c: SupportKeyed): LedgerError | null {
  if (!c.reason) return invalid("reason", "is required");
  if (!c.actor) return invalid("actor", "is required");
  return null;
}

function budgetFields(c: SetBudgetCommand): LedgerError | null {
  if (!BUDGET_SCOPES.includes(c.scope)) return invalid("scope", `must be one of ${BUDGET_SCOPES.join(", ")}`);
  if (!c.scopeId) return invalid("scope_id", "is required");
  if (c.scopeId.trim() !== c.scopeId) return invalid("scope_id", "must not be blank or begin or end with whitespace: it is matched exactly against the charges' attribution");
  if (c.limitMicros < 0n) return invalid("limit_micros", "must not be negative");
  if (c.mode !== "soft" && c.mode !== "hard") return invalid("mode", "must be soft or hard");
  if (c.thresholdPercents.some((t) => !Number.isInteger(t) || t < 1 || t > 1_000)) return invalid("threshold_percents", "each must be between 1 and 1000");
  if (new Set(c.thresholdPercents).size !== c.thresholdPercents.length) return invalid("threshold_percents", "must not repeat");
  return supportFields(c);
}

function setBudgetOf(work: Work, c: SetBudgetCommand, ctx: BatchContext): { value: BudgetAnswer } {
  const before = work.account.budgets.get(budgetIdOf(c.unit, c.scope, c.scopeId));
  const budget = setBudget(work.account, c, ctx.nowMs);
  work.add([...liftedBudget(work.account, before, budget, c.traceparent ?? ""), { type: "budget", budget }]);
  return { value: budgetAnswer(work.account, budget) };
}

function deleteBudgetFields(c: DeleteBudgetCommand): LedgerError | null {
  if (!c.budgetId) return invalid("budget_id", "is required");
  return supportFields(c);
}

function deleteBudgetOf(work: Work, c: DeleteBudgetCommand): LedgerError | { value: BudgetAnswer } {
  const budget = work.account.budgets.get(c.budgetId);
  if (!budget) return notFound("budget", c.budgetId);
  const value = budgetAnswer(work.account, budget);
  work.add([...liftedBudget(work.account, budget, null, c.traceparent ?? ""), { type: "budgetDeleted", accountId: c.accountId, budgetId: c.budgetId }]);
  return { value };
}

function adjustFields(c: AdjustCommand): LedgerError | null {
  if (!c.poolId) return invalid("pool_id", "is required");
  if (c.amountMicros === 0n) return invalid("amount_micros", "must not be zero");
  return supportFields(c);
}

function authorize(work: Work, c: AuthorizeCommand, ctx: BatchContext): { value: AuthorizeAnswer } {
  const a = work.account;
  const base = { amountMicros: c.amountMicros, holdId: null, expiresAtMs: null, metered: true, message: "" };
  if (a.facts.suspended || !c.eligibility.allowed) {
    const denial = deny({ account: a, nowMs: ctx.nowMs, unit: c.unit, eligibility: c.eligibility, fits: true })!;
    return { value: { ...base, allowed: false, reason: denial.reason, message: denial.message, availableMicros: 0n, metered: denial.reason !== "NOT_ELIGIBLE" } };
  }
  if (!c.eligibility.metered) {
    return { value: { ...base, allowed: true, reason: null, message: c.eligibility.reason, amountMicros: 0n, availableMicros: 0n, metered: false } };
  }
  // Auto reload before the decision: an add-on pool drained to zero during its cool-down is no longer drawn from, so
  // no charge would reload it again; the next call for its unit does (rules/auto-reload.ts). Kept with a denial too.
  const reload = autoReload(a, c.unit, ctx, { traceId: c.traceId ?? "", traceparent: c.traceparent ?? "" });
  if (reload.reloadedMicros > 0n) {
    work.add(reload.writes);
    work.add(receded(a, c.unit, ctx, c.traceparent ?? ""));
  }
  const { availableMicros } = unitTotals(a, c.unit, ctx.nowMs);
  const start = newWork({ work: "hold", limits: appliedLimits(a, c.unit, c.workKind), availableMicros, amountMicros: c.amountMicros });
  const over = reservationPasses(a, c.unit, c.attribution, c.amountMicros);
  const denial = deny({ account: a, nowMs: ctx.nowMs, unit: c.unit, fits: start.fits, balanceDenial: start.denial, budget: over && { ...over, neededMicros: c.amountMicros } });
  if (denial) {
    const byBudget = denial.reason === "BUDGET_EXCEEDED";
    return { value: { ...base, allowed: false, reason: denial.reason, message: byBudget ? denial.message : "", availableMicros, ...(!byBudget && start.draftsOnly ? { draftsOnly: true } : {}) } };
  }
  const holdId = ctx.ids.holdId();
  const expiresAtMs = ctx.nowMs + c.ttlMs;
  work.add([
    {
      type: "hold",
      hold: {
        holdId, accountId: a.accountId, unit: c.unit, bucket: c.bucket, amountMicros: c.amountMicros, chargedMicros: 0n, status: "open",
        expiresAtMs, createdAtMs: ctx.nowMs, closedAtMs: null, attribution: c.attribution, rateTableVersion: c.rateTableVersion,
        pricedUsage: [], pricedMicros: 0n,
      },
    },
    { type: "held", accountId: a.accountId, unit: c.unit, deltaMicros: c.amountMicros },
  ]);
  return { value: { ...base, allowed: true, reason: null, holdId, expiresAtMs, availableMicros: availableMicros - c.amountMicros } };
}

function charge(work: Work, c: ChargeCommand, ctx: BatchContext): LedgerError | { value: ChargeAnswer } {
  const a = work.account;
  const hold = c.holdId === null ? null : a.holds.get(c.holdId)!;
  if (hold && hold.unit !== c.unit) return precondition("UNIT_MISMATCH", `hold ${hold.holdId} is held in ${hold.unit}, the usage is priced in ${c.unit}`);
  if (hold && isClosedByCaller(hold)) return precondition("HOLD_CLOSED", `hold ${hold.holdId} is already ${hold.status}`);
  const moved = hold ? scopeMovedBy(hold.attribution, c.attribution) : null;
  if (moved) {
    return invalid(`attribution.${moved.key}`, `is ${moved.sent}, but hold ${hold!.holdId} was authorized for ${moved.held}: a charge on a hold counts under the budgets its hold was checked against (send the hold's, or none)`);
  }
  // On a hold, the running total is priced and the difference charged (rules/running-total.ts).
  const running = hold && c.running ? runningCharge(hold, c.running) : null;
  if (running && "code" in running) return running;
  const amountMicros = running ? running.amountMicros : c.amountMicros;
  const unit = a.units.get(c.unit)!;
  const attribution = hold ? { ...hold.attribution, ...c.attribution } : c.attribution;
  // When the usage happened (late usage: before now): the per-cycle budgets it counts in are that cycle's.
  const usageAtMs = c.occurredAtMs ?? ctx.nowMs;
  const trace = { traceId: c.traceId, traceparent: c.traceparent };
  const limitsNow = () => {
    const totals = unitTotals(a, c.unit, ctx.nowMs);
    const balanceLimit = collectable(totals.availableMicros + (hold ? reserved(hold) : 0n), unit.negativeLimitMicros, amountMicros);
    // A hard budget over the charge is never passed: it collects at most the budget's room (rules/budgets.ts).
    return { totals, balanceLimit, cap: budgetCap(a, c.unit, attribution, hold?.holdId ?? null, balanceLimit.collectMicros, usageAtMs) };
  };
  let { totals, balanceLimit, cap } = limitsNow();
  // Short of the balance itself (not of a budget, nor of what other holds reserve): the charge drains every pool, so the
  // add-ons that reload do so first and it collects the rest from them. Short because other holds reserve the balance,
  // the pools are not drained, and an add-on above its level buys nothing.
  const drainsEveryPool = balanceLimit.uncollectedMicros > 0n && cap.collectMicros === balanceLimit.collectMicros &&
    totals.availableMicros + (hold ? reserved(hold) : 0n) === totals.balanceMicros;
  const early = drainsEveryPool ? autoReload(a, c.unit, ctx, trace, { drained: true }) : { writes: [], reloadedMicros: 0n };
  if (early.reloadedMicros > 0n) {
    work.add(early.writes);
    ({ totals, balanceLimit, cap } = limitsNow());
  }
  const limit = {
    collectMicros: cap.collectMicros, uncollectedMicros: amountMicros - cap.collectMicros, proceed: balanceLimit.proceed && cap.stopped === null,
  };
  const onHold = hold ? chargeHold(hold, limit.collectMicros, c.final) : { reservedMicros: 0n, consumedMicros: 0n, releasedMicros: 0n, closes: false };
  const draws = drawDown(drawdownOrder(livePools(a, c.unit, ctx.nowMs), a.facts.drawdownOrder), limit.collectMicros);
  if (draws === null) return precondition("NO_POOL", `account ${a.accountId} has no ${c.unit} pool to charge`);

  const entryId = ctx.ids.entryId();
  const lines: Line[] = draws.map((d) => ({ ledgerAccount: `pool:${d.poolId}`, poolId: d.poolId, amountMicros: -d.takeMicros }));
  if (limit.collectMicros > 0n) lines.push({ ledgerAccount: `usage:${a.accountId}:${c.bucket}`, poolId: null, amountMicros: limit.collectMicros });
  const writes: Write[] = [
    {
      type: "entry",
      entry: {
        entryId, accountId: a.accountId, kind: "charge", unit: c.unit, holdId: c.holdId, bucket: c.bucket, amountMicros: limit.collectMicros,
        uncollectedMicros: limit.uncollectedMicros, attribution,
        rateTableVersion: c.rateTableVersion, reason: "", actor: c.actor ?? "", ...(c.onBehalfOf ? { onBehalfOf: c.onBehalfOf } : {}), traceId: c.traceId, atMs: ctx.nowMs, lines,
        ...(c.occurredAtMs !== undefined ? { occurredAtMs: c.occurredAtMs } : {}),
      },
    },
    ...draws.map((d): Write => ({ type: "poolChange", accountId: a.accountId, poolId: d.poolId, balanceDeltaMicros: -d.takeMicros, grantedDeltaMicros: 0n })),
  ];
  if (hold) {
    writes.push({
      type: "holdChange", accountId: a.accountId, holdId: hold.holdId, chargedDeltaMicros: limit.collectMicros, ...(onHold.closes ? { status: "charged" as const, closedAtMs: ctx.nowMs } : {}),
      ...(running ? { priced: { usage: running.pricedUsage, micros: running.pricedMicros } } : {}),
    });
    const returned = onHold.consumedMicros + onHold.releasedMicros;
    if (returned > 0n) writes.push({ type: "held", accountId: a.accountId, unit: c.unit, deltaMicros: -returned });
  }
  work.add(writes);
  work.add(chargeBudgets(a, c.unit, attribution, limit.collectMicros, usageAtMs, c.traceparent));

  // Auto reload: every add-on pool of the unit below its level and out of its cool-down, whichever pools the charge drew
  // from. One purchase per pool per call: after a reload ahead of the draw, a charge still short buys nothing more.
  const reload = early.reloadedMicros > 0n ? { writes: [], reloadedMicros: 0n } : autoReload(a, c.unit, ctx, trace);
  work.add(reload.writes);
  // Usage of a kind of work with its own limits (its hold's or its own attribution names the kind) says stop once it
  // leaves the unit at or below the kind's negative limit, as running work of that kind stops (rules/kind-limits.ts).
  const kindStops = attribution.work_kind !== undefined && stopsRunningWork(appliedLimits(work.account, c.unit, attribution.work_kind), unitTotals(work.account, c.unit, ctx.nowMs).availableMicros);

  const balanceMicros = totals.balanceMicros - limit.collectMicros + reload.reloadedMicros;
  const crossed = crossings({
    allottedMicros: totals.grantedMicros + reload.reloadedMicros, balanceAfterMicros: balanceMicros, collectedMicros: limit.collectMicros,
    thresholdPercents: a.facts.thresholdPercents, crossedPercents: unit.crossedPercents,
  });
  const cycle = a.cycle ? new Date(a.cycle.startMs).toISOString() : "";
  // A unit under a BYOM spend cap says so with its own event (spend_cap_reached), once per cycle.
  const capped = [...a.pools.values()].some((p) => p.unit === c.unit && p.kind === "spend_cap" && !p.closed);
  if (!capped && reachesNegativeLimit(totals.balanceMicros, balanceMicros, unit.negativeLimitMicros)) {
    work.add([{
      type: "outbox",
      event: {
        accountId: a.accountId, kind: "negative_limit_reached", traceparent: c.traceparent,
        payload: { unit: c.unit, balance_micros: balanceMicros.toString(), negative_limit_micros: unit.negativeLimitMicros.toString(), uncollected_micros: limit.uncollectedMicros.toString(), cycle },
      },
    }]);
  }
  work.add(crossedWrites(a, c.unit, crossed, c.traceparent));
  // A reload gives room again: thresholds crossed before it that usage no longer reaches recede (those this charge crossed still hold).
  if (early.reloadedMicros + reload.reloadedMicros > 0n) work.add(receded(a, c.unit, ctx, c.traceparent));
  return {
    value: {
      entryId, chargedMicros: limit.collectMicros, uncollectedMicros: limit.uncollectedMicros, releasedMicros: onHold.releasedMicros, balanceMicros,
      proceed: cap.stopped === null && !kindStops && (balanceLimit.proceed || (balanceLimit.uncollectedMicros === 0n && reload.reloadedMicros > 0n)),
      ...(cap.stopped ? { budgetId: cap.stopped.budgetId } : {}),
    },
  };
}

function release(work: Work, c: ReleaseCommand, ctx: BatchContext): { value: AnswerOf["release"] } {
  const hold = work.account.holds.get(c.holdId)!;
  if (hold.status !== "open") return { value: { releasedMicros: 0n, status: hold.status } };
  const releasedMicros = remaining(hold);
  work.add([
    { type: "holdChange", accountId: hold.accountId, holdId: hold.holdId, chargedDeltaMicros: 0n, status: "released", closedAtMs: ctx.nowMs },
    ...(releasedMicros > 0n ? [{ type: "held", accountId: hold.accountId, unit: hold.unit, deltaMicros: -releasedMicros } as Write] : []),
  ]);
  return { value: { releasedMicros, status: "released" } };
}

/**
 * Reserves more on an open hold and/or keeps it open longer. The added amount
 * must fit in balance − held like an Authorize's estimate, and the same
 * denials apply (suspension first); a denial leaves the hold as it was.
 */
function extendHold(work: Work, c: ExtendHoldCommand, ctx: BatchContext): LedgerError | { value: AnswerOf["extendHold"] } {
  const a = work.account;
  const hold = a.holds.get(c.holdId)!;
  if (c.unit && hold.unit !== c.unit) return precondition("UNIT_MISMATCH", `hold ${hold.holdId} is held in ${hold.unit}, the estimate is priced in ${c.unit}`);
  // The added estimate is priced at the hold's rate table version, like every charge on it.
  const pinned = c.addMicros > 0n && c.rateTableVersion !== undefined ? pinnedElsewhere(hold, c.rateTableVersion, "the estimate") : null;
  if (pinned) return pinned;
  const extended = extension(hold, c.addMicros, c.ttlMs, ctx.nowMs);
  if ("closed" in extended) {
    return extended.closed === "expired"
      ? precondition("HOLD_EXPIRED", `hold ${hold.holdId} has expired and returned its reservation; authorize again`)
      : precondition("HOLD_CLOSED", `hold ${hold.holdId} is already ${extended.closed}`);
  }
  const { availableMicros } = unitTotals(a, hold.unit, ctx.nowMs);
  // What the hold reserves more: usage already above the hold absorbs the first of the added amount.
  const reservedMoreMicros = remaining({ ...hold, amountMicros: hold.amountMicros + c.addMicros }) - remaining(hold);
  const base = { amountMicros: hold.amountMicros, expiresAtMs: hold.expiresAtMs, availableMicros };
  const over = reservationPasses(a, hold.unit, hold.attribution, reservedMoreMicros);
  const denial = deny({ account: a, nowMs: ctx.nowMs, unit: hold.unit, fits: holdFits(availableMicros, reservedMoreMicros), budget: over && { ...over, neededMicros: reservedMoreMicros } });
  if (denial) return { value: { ...base, allowed: false, reason: denial.reason, message: denial.message } };
  work.add([
    { type: "holdChange", accountId: a.accountId, holdId: hold.holdId, chargedDeltaMicros: 0n, amountDeltaMicros: c.addMicros, expiresAtMs: extended.expiresAtMs },
    ...(reservedMoreMicros > 0n ? [{ type: "held", accountId: a.accountId, unit: hold.unit, deltaMicros: reservedMoreMicros } as Write] : []),
  ]);
  return {
    value: { allowed: true, reason: null, message: "", amountMicros: hold.amountMicros + c.addMicros, expiresAtMs: extended.expiresAtMs, availableMicros: availableMicros - reservedMoreMicros },
  };
}

/** A grant, adjustment or reversal that would take the unit's balance past MAX_BALANCE_MICROS is refused, naming `field`. (Auto reload tops a pool up only after usage took it below its threshold, so it never grows a balance past what was granted.) */
function balanceLimit(balanceMicros: bigint, addMicros: bigint, unit: string, what: string, field = "amount_micros"): LedgerError | null {
  if (balanceHasRoom(balanceMicros, addMicros)) return null;
  return precondition(
    "BALANCE_LIMIT",
    `the ${what} would take the ${unit} balance to ${formatAmount(balanceMicros + addMicros, unit as Unit)}, above the largest a balance may be (${formatAmount(MAX_BALANCE_MICROS, unit as Unit)})`,
    field,
  );
}

/**
 * After a change that gives a unit room again: the thresholds of the cycle it
 * no longer reaches leave the crossed set, and a `usage_receded` event says
 * so (rules/thresholds.ts `recessions`). Nothing when none recede.
 */
/** Thresholds crossed: a `threshold_crossed` event each, and the unit's crossed set (nothing when none was). */
function crossedWrites(account: AccountState, unit: string, crossed: ReturnType<typeof reached>, traceparent: string): Write[] {
  if (crossed.events.length === 0) return [];
  const cycle = account.cycle ? new Date(account.cycle.startMs).toISOString() : "";
  return [
    ...crossed.events.map((e): Write => ({
      type: "outbox",
      event: { accountId: account.accountId, kind: "threshold_crossed", traceparent, payload: { unit, threshold_percent: e.thresholdPercent, percent_used: e.percentUsed, cycle } },
    })),
    { type: "crossed", accountId: account.accountId, unit, crossedPercents: crossed.crossed },
  ];
}

/**
 * Pools that expired took their room with them: what was used is a larger
 * share of what is left, and the thresholds it now reaches are crossed, once
 * each per cycle, as a charge would cross them (a charge that collects
 * nothing, at the limit, crosses none: without this the 100 % warning of a
 * unit left with nothing by an expiry never came). `expired`: the expiry's writes.
 */
function crossedByExpiry(account: AccountState, expired: readonly Write[], ctx: BatchContext): Write[] {
  if (!account.cycle) return [];
  const units = new Set(expired.flatMap((w) => (w.type === "outbox" && w.event.kind === "pool_expired" ? [String(w.event.payload.unit)] : [])));
  return [...units].sort().flatMap((unit) => {
    const totals = unitTotals(account, unit, ctx.nowMs);
    const crossed = reached({ allottedMicros: totals.grantedMicros, balanceMicros: totals.balanceMicros, thresholdPercents: account.facts.thresholdPercents, crossedPercents: account.units.get(unit)?.crossedPercents ?? [] });
    return crossedWrites(account, unit, crossed, traceOf(ctx).traceparent);
  });
}

function receded(account: AccountState, unit: string, ctx: BatchContext, traceparent: string): Write[] {
  const crossedPercents = account.units.get(unit)?.crossedPercents ?? [];
  if (crossedPercents.length === 0 || !account.cycle) return [];
  const totals = unitTotals(account, unit, ctx.nowMs);
  const { crossed, receded: thresholds, percentUsed } = recessions({ allottedMicros: totals.grantedMicros, balanceMicros: totals.balanceMicros, crossedPercents });
  if (thresholds.length === 0) return [];
  const cycle = new Date(account.cycle.startMs).toISOString();
  return [
    { type: "crossed", accountId: account.accountId, unit, crossedPercents: crossed },
    { type: "outbox", event: { accountId: account.accountId, kind: "usage_receded", traceparent, payload: { unit, threshold_percents: thresholds, percent_used: percentUsed, cycle } } },
  ];
}

function grant(work: Work, c: GrantCommand, ctx: BatchContext): LedgerError | { value: AnswerOf["grant"] } {
  // Checked after the key: a replay answers the same once the expiry has passed.
  if (c.expiresAtMs !== null && c.expiresAtMs <= ctx.nowMs) return invalid("expires_at", "must be in the future");
  const a = work.account;
  const grantKey = `grant:${a.accountId}:${c.idempotencyKey}`;
  const already = poolByGrantKey(a, grantKey);
  // A pool names its grant's key after the key's record is pruned: a grant of its unit, kind, expiry and priority is answered
  // its pool; another is the key reused (answered its pool, it would be told granted while nothing was). Its amount cannot
  // tell: usage, rollovers, adjustments and reloads move what a pool was granted.
  if (already && (already.unit !== c.unit || already.kind !== c.kind || already.expiresAtMs !== c.expiresAtMs || already.priority !== c.priority)) {
    return keyReused(c.idempotencyKey);
  }
  const room = already ? null : balanceLimit(unitTotals(a, c.unit, ctx.nowMs).balanceMicros, c.amountMicros, c.unit, "grant");
  if (room) return room;
  const granted = grantPool(a, {
    unit: c.unit, kind: c.kind, amountMicros: c.amountMicros, expiresAtMs: c.expiresAtMs, priority: c.priority, grantKey,
    reason: c.reason, actor: c.actor, traceId: c.traceId, ...(c.onBehalfOf ? { onBehalfOf: c.onBehalfOf } : {}),
    reload: c.reload && (c.reloadPriceUsdMicros === undefined ? c.reload : { ...c.reload, priceUsdMicros: c.reloadPriceUsdMicros }),
  }, ctx);
  work.add(granted.writes);
  work.add(receded(a, c.unit, ctx, c.traceparent ?? ""));
  return { value: { poolId: granted.pool.poolId, entryId: already ? 0n : granted.entryId, balanceMicros: unitTotals(a, c.unit, ctx.nowMs).balanceMicros } };
}

function adjust(work: Work, c: AdjustCommand, ctx: BatchContext): LedgerError | { value: AnswerOf["adjust"] } {
  const a = work.account;
  const pool = a.pools.get(c.poolId)!;
  if (pool.closed) return precondition("POOL_CLOSED", `pool ${pool.poolId} is closed`);
  if (!wholeAmount(pool.unit, c.amountMicros)) return invalid("amount_micros", WHOLE_RUNS_PROBLEM);
  // Past its expiry, a pool that owes stays open for its debt alone (rules/pool-expiry.ts): it takes at most what it owes.
  if (pastExpiry(pool, ctx.nowMs) && (c.amountMicros < 0n || pool.balanceMicros + c.amountMicros > 0n)) {
    return precondition("POOL_CLOSED", `pool ${pool.poolId} has expired and owes ${formatAmount(-pool.balanceMicros, pool.unit as Unit)}: it takes at most that; grant the rest instead`);
  }
  const totals = unitTotals(a, pool.unit, ctx.nowMs);
  const unit = a.units.get(pool.unit);
  if (!adjustFits(totals.availableMicros, unit?.negativeLimitMicros ?? 0n, c.amountMicros)) {
    const limit = formatAmount(-(unit?.negativeLimitMicros ?? 0n), pool.unit as Unit);
    return precondition(
      "ADJUSTMENT_BELOW_LIMIT",
      `the adjustment would take the available balance to ${formatAmount(totals.availableMicros + c.amountMicros, pool.unit as Unit)}, below the negative limit (${limit})`,
      "amount_micros",
    );
  }
  const room = balanceLimit(totals.balanceMicros, c.amountMicros, pool.unit, "adjustment");
  if (room) return room;
  const entryId = ctx.ids.entryId();
  const reloadStopped = stopsReload(pool, c.amountMicros, ctx.nowMs);
  work.add([
    {
      type: "entry",
      entry: {
        entryId, accountId: a.accountId, kind: "adjust", unit: pool.unit, holdId: null, bucket: "", amountMicros: c.amountMicros, uncollectedMicros: 0n,
        attribution: {}, rateTableVersion: 0n, reason: c.reason, actor: c.actor, ...(c.onBehalfOf ? { onBehalfOf: c.onBehalfOf } : {}), traceId: c.traceId, atMs: ctx.nowMs,
        lines: [
          { ledgerAccount: `pool:${pool.poolId}`, poolId: pool.poolId, amountMicros: c.amountMicros },
          { ledgerAccount: `adjustments:${a.accountId}`, poolId: null, amountMicros: -c.amountMicros },
        ],
      },
    },
    // A correction of what the pool was given, not usage (rules/grants.ts); one that takes back a purchase stops its reload.
    {
      type: "poolChange", accountId: a.accountId, poolId: pool.poolId, balanceDeltaMicros: c.amountMicros, grantedDeltaMicros: adjustedGrant(pool, c.amountMicros),
      ...(reloadStopped ? { reloadOff: true as const } : {}),
    },
  ]);
  work.add(receded(a, pool.unit, ctx, c.traceparent ?? ""));
  return { value: { entryId, balanceMicros: unitTotals(a, pool.unit, ctx.nowMs).balanceMicros, ...(reloadStopped ? { reloadStopped: true as const } : {}) } };
}

/** A compensating entry that returns a charge to the pools it drew from (rules/reversal.ts). */
function reverse(work: Work, c: ReverseCommand, ctx: BatchContext): LedgerError | { value: AnswerOf["reverse"] } {
  const a = work.account;
  const named = reversedCharge(a, c.entryId);
  if ("error" in named) return precondition(named.error.reason, named.error.message);
  const { charge } = named;
  const decided = reversal(a, charge, ctx.nowMs);
  if ("error" in decided) return precondition(decided.error.reason, decided.error.message);
  const returnedMicros = decided.returns.reduce((sum, r) => sum + r.micros, 0n);
  // A reversal gives back what a charge took; after grants up to the limit, many of them would otherwise pass it.
  const room = balanceLimit(unitTotals(a, charge.unit, ctx.nowMs).balanceMicros, returnedMicros, charge.unit, "reversal", "entry_id");
  if (room) return room;
  const entryId = ctx.ids.entryId();
  const lines: Line[] = decided.returns.map((r) => ({ ledgerAccount: `pool:${r.poolId}`, poolId: r.poolId, amountMicros: r.micros }));
  if (returnedMicros !== 0n) lines.push({ ledgerAccount: `usage:${a.accountId}:${charge.bucket}`, poolId: null, amountMicros: -returnedMicros });
  work.add([
    {
      type: "entry",
      entry: {
        entryId, accountId: a.accountId, kind: "reverse", unit: charge.unit, holdId: null, bucket: charge.bucket, amountMicros: -returnedMicros, uncollectedMicros: 0n,
        attribution: {}, rateTableVersion: 0n, reason: c.reason, actor: c.actor, ...(c.onBehalfOf ? { onBehalfOf: c.onBehalfOf } : {}), traceId: c.traceId, atMs: ctx.nowMs, lines, reversesEntryId: charge.entryId,
      },
    },
    // What of it counts as given again, not usage undone: rules/reversal.ts regranted.
    ...decided.returns.map((r): Write => ({ type: "poolChange", accountId: a.accountId, poolId: r.poolId, balanceDeltaMicros: r.micros, grantedDeltaMicros: r.grantedMicros })),
    ...reverseBudgets(a, charge, c.traceparent ?? ""),
  ]);
  work.add(receded(a, charge.unit, ctx, c.traceparent ?? ""));
  return { value: { entryId, returnedMicros, balanceMicros: unitTotals(a, charge.unit, ctx.nowMs).balanceMicros } };
}

function startWork(work: Work, c: StartWorkCommand, ctx: BatchContext): LedgerError | { value: AnswerOf["startWork"] } {
  const a = work.account;
  // A run is its own task, a deployment its own deployment (workAttribution): another id there would be replaced unseen.
  const own = c.kind === "run" ? "task_id" : "deployment_id";
  if (c.attribution[own] && c.attribution[own] !== c.workId) {
    return invalid(`attribution.${own}`, `is ${c.attribution[own]}, but a ${c.kind}'s ${own} is its own id, ${c.workId}: leave it out`);
  }
  if (a.work.has(c.workId)) return precondition("WORK_EXISTS", `${c.kind} ${c.workId} already exists`);
  const { availableMicros } = unitTotals(a, c.unit, ctx.nowMs);
  const eligibility = c.eligibility ?? { allowed: true, metered: true, reason: "" };
  const metered = eligibility.allowed && eligibility.metered;
  // The kind's limits, else the unit's (rules/kind-limits.ts). Unmetered work starts whatever the balance or its
  // budgets (it is never charged); suspension and the plan's rules still refuse it, as they refuse an Authorize:
  // after the key is recalled, so a retry of a start answers as the start did (rules/denial.ts).
  const start = newWork({ work: c.kind, limits: appliedLimits(a, c.unit, c.workKind), availableMicros });
  const room = metered ? hardRoom(a, c.unit, workAttribution(c.kind, c.workId, c.attribution)) : null;
  const denial = deny({
    account: a, nowMs: ctx.nowMs, unit: c.unit, eligibility, fits: !metered || start.fits, balanceDenial: start.denial,
    budget: room && room.roomMicros < 1n ? { ...room, neededMicros: 1n } : null,
  });
  if (denial) {
    // The balance denials are worded by the caller, with every figure; the others keep the rule's own words.
    const byRule = denial.reason === "ACCOUNT_SUSPENDED" || denial.reason === "NOT_ELIGIBLE" || denial.reason === "BUDGET_EXCEEDED";
    return {
      value: {
        allowed: false, reason: denial.reason, availableMicros, metered: denial.reason !== "NOT_ELIGIBLE", ...(byRule ? { message: denial.message } : {}),
        ...(metered && !byRule && start.draftsOnly ? { draftsOnly: true } : {}),
      },
    };
  }
  work.add([
    {
      type: "work",
      work: {
        workId: c.workId, kind: c.kind, accountId: a.accountId, unit: c.unit, state: "running", replicas: c.replicas, chargedUntilMs: ctx.nowMs,
        activeMs: 0, chargedMicros: 0n, attribution: c.attribution, endpoint: c.endpoint, stopReason: "",
        usage: c.usage ?? {}, labels: c.labels ?? {}, context: c.context ?? {}, metered, pricedQuantity: 0n, pricedMicros: 0n, createdAtMs: ctx.nowMs,
        ...(c.workKind ? { workKind: c.workKind } : {}),
        ...(c.rateTableId ? { rateTableId: c.rateTableId } : {}),
      },
    },
    ...(c.kind === "deployment"
      ? [{ type: "outbox", event: { accountId: a.accountId, kind: "deployment_changed", traceparent: "", payload: { deployment_id: c.workId, state: "deployed", endpoint: c.endpoint, replicas: c.replicas, ...workKindPayload(c.workKind) } } } as Write]
      : []),
  ]);
  return { value: { allowed: true, reason: null, availableMicros, metered, ...(metered ? {} : { message: eligibility.reason }) } };
}

/** What a run's or deployment's charges are attributed to: its own attribution and its id (a run's as `task_id`, so a task budget covers it). */
function workAttribution(kind: "run" | "deployment", workId: string, attribution: Record<string, string>): Record<string, string> {
  return { ...attribution, [kind === "run" ? "task_id" : "deployment_id"]: workId };
}

function rollOverAccount(account: AccountState, c: RollOverCommand, ctx: BatchContext): Decision {
  if (c.cycleEndMs <= c.cycleStartMs) return refused(invalid("cycle_end", "must be after the cycle start"));
  for (const [i, u] of c.units.entries()) {
    if (!u.unit) return refused(invalid(`units[${i}].unit`, "is required"));
    if (u.allotmentMicros < 0n || u.negativeLimitMicros < 0n || u.lowCreditLimitMicros < 0n) return refused(invalid(`units[${i}]`, "amounts must not be negative"));
  }
  for (const [i, g] of c.signupGrants.entries()) {
    if (g.amountMicros <= 0n) return refused(invalid(`signup_grants[${i}].amount_micros`, "must be positive"));
    if (!account.units.has(g.unit) && !c.units.some((u) => u.unit === g.unit)) return refused(notFound("balance", `${account.accountId} ${g.unit}`));
  }
  const work = new Work(cloneAccount(account));
  work.add(expireHolds(work.account, ctx.nowMs));
  const rolled = rollOver(work.account, c, ctx);
  // A cycle already current writes nothing, not even the expiry: whether a process re-opens a cycle it knows open must not change the journal.
  if (rolled.writes.length === 0) return { result: { ok: true, value: { rolled: false, cycleStartMs: rolled.cycleStartMs }, replayed: false }, account, writes: [] };
  work.add(rolled.writes);
  // Within the cycle, a larger plan's allotment gives room again (a new cycle cleared the crossed set itself).
  if (!rolled.rolled) for (const unit of work.account.units.keys()) work.add(receded(work.account, unit, ctx, traceOf(ctx).traceparent));
  work.add(liftedByNewCycle(account, work.account));
  const expired = expirePools(work.account, ctx);
  work.add(expired);
  work.add(crossedByExpiry(work.account, expired, ctx));
  return work.done({ rolled: rolled.rolled, cycleStartMs: rolled.cycleStartMs });
}

/**
 * A metering tick: charges the interval as a final one-shot charge (keyed
 * `workKey(work, to)`), moves `charged_until`, and stops work the charge
 * could not pay (`proceed` false), or work of a kind with its own limits at
 * −its negative limit (rules/kind-limits.ts), with a `work_stopped` event.
 * A tick whose `fromMs` is no longer `charged_until` lost a race and does
 * nothing.
 */
function meter(account: AccountState, c: MeterCommand, ctx: BatchContext): Decision {
  if (c.toMs < c.fromMs) return refused(invalid("to", "must not be before from"));
  if (c.amountMicros < 0n) return refused(invalid("amount_micros", "must not be negative"));
  const item = account.work.get(c.workId);
  if (!item) return refused(notFound("work", c.workId));
  if (item.chargedUntilMs !== c.fromMs) return { result: { ok: true, value: { stale: true, state: item.state, charge: null }, replayed: false }, account, writes: [] };
  // A tick writes on the account even when it charges nothing: expiry first, as before any write.
  const lazy = lazyExpiry(account, ctx);
  let current = lazy.account;
  const writes: Write[] = [...lazy.writes];
  let state = c.nextState ?? item.state;
  let charged: ChargeAnswer | null = null;
  // Work started before its unit was recorded says `credits`: the tick's own pricing names the unit.
  const unit = c.unit ?? item.unit;
  // Only running, metered time is charged: a paused run's interval and unmetered work move on in time with no entry.
  if (item.metered && item.state === "running" && c.toMs > c.fromMs) {
    const decided = decide(current, {
      type: "charge", accountId: account.accountId, holdId: null, unit, bucket: c.bucket, amountMicros: c.amountMicros, final: true,
      idempotencyKey: workKey(c.workId, c.toMs), keyOwner: "ledger", requestHash: `${c.amountMicros}:${unit}`,
      attribution: workAttribution(item.kind, c.workId, item.attribution),
      rateTableVersion: c.rateTableVersion, traceparent: c.traceparent, traceId: c.traceId,
      actor: c.actor ?? "system", ...(c.onBehalfOf ? { onBehalfOf: c.onBehalfOf } : {}),
    }, ctx);
    if (!decided.result.ok) return refused(decided.result.error);
    charged = decided.result.value as ChargeAnswer;
    current = decided.account!;
    writes.push(...decided.writes);
  }
  const work = new Work(current === account ? cloneAccount(account) : current);
  work.writes.push(...writes);
  const changes: Write[] = [];
  // The kind's own negative limit stops its work before the unit's would (rules/kind-limits.ts).
  const limits = appliedLimits(work.account, unit, item.workKind);
  const kindStops = charged !== null && stopsRunningWork(limits, unitTotals(work.account, unit, ctx.nowMs).availableMicros);
  if (charged && (!charged.proceed || kindStops) && (state === "running" || state === "paused")) {
    state = "stopped";
    changes.push({
      type: "outbox",
      event: {
        accountId: account.accountId, kind: "work_stopped", traceparent: c.traceparent,
        payload: { run_id: item.kind === "run" ? c.workId : "", deployment_id: item.kind === "deployment" ? c.workId : "", message: charged.budgetId ? BUDGET_STOP_MESSAGE : limits.stopMessage || STOP_MESSAGE, ...(charged.budgetId ? { budget_id: charged.budgetId } : {}), ...workKindPayload(item.workKind) },
      },
    });
  }
  changes.push({
    type: "workChange", accountId: account.accountId, workId: c.workId,
    changes: {
      chargedUntilMs: c.toMs, activeMs: item.activeMs + (item.state === "running" ? c.toMs - c.fromMs : 0), chargedMicros: item.chargedMicros + (charged?.chargedMicros ?? 0n),
      replicas: c.replicas ?? item.replicas, state, ...(state === "stopped" && item.state !== "stopped" ? { stopReason: charged?.budgetId ? "budget exceeded" : "negative limit reached" } : {}),
      ...(unit !== item.unit ? { unit } : {}),
      ...(item.metered && c.pricedQuantity !== undefined ? { pricedQuantity: c.pricedQuantity } : {}),
      ...(item.metered && c.pricedMicros !== undefined ? { pricedMicros: c.pricedMicros } : {}),
    },
  });
  if (item.kind === "deployment" && state === "undeployed" && item.state !== "undeployed") {
    changes.push({ type: "outbox", event: { accountId: account.accountId, kind: "deployment_changed", traceparent: c.traceparent, payload: { deployment_id: c.workId, state: "undeployed", endpoint: item.endpoint, replicas: item.replicas, ...workKindPayload(item.workKind) } } });
  }
  work.add(changes);
  return work.done({ stale: false, state, charge: charged });
}

/**
 * A tick or resume that carries a caller's keyed call (PauseRun, ResumeRun,
 * EndRun, Scale, Undeploy): a repeat answers the recorded answer and changes
 * nothing; otherwise the call's record is written with the state change it
 * made, in the same batch. A tick that lost its race records nothing (the
 * caller tries again).
 */
function workCall<C extends MeterCommand | ResumeWorkCommand>(account: AccountState, c: C, ctx: BatchContext, rule: (account: AccountState, c: C, ctx: BatchContext) => Decision): Decision {
  if (!c.call) return rule(account, c, ctx);
  const invalidKey = checkKey(c.call.idempotencyKey);
  if (invalidKey) return refused(invalidKey);
  const recalled = recall(account, c.call.idempotencyKey, c.call.requestHash);
  if (recalled && "error" in recalled) return refused(recalled.error);
  if (recalled) {
    const work = recalled.replay as WorkCallAnswer;
    return { result: { ok: true, value: { stale: false, state: work.state, charge: null, work }, replayed: true }, account, writes: [] };
  }
  const decided = rule(account, c, ctx);
  if (!decided.result.ok) return decided;
  const value = decided.result.value as { stale?: boolean; charge?: ChargeAnswer | null };
  if (value.stale) return decided;
  const after = (decided.account ?? account).work.get(c.workId)!;
  const answer: WorkCallAnswer = {
    state: after.state, chargedThisCallMicros: value.charge?.chargedMicros ?? 0n, totalChargedMicros: after.chargedMicros, activeMs: after.activeMs,
    replicas: after.replicas, proceed: value.charge?.proceed ?? true,
  };
  // A rule that changed nothing answers the account it was given: the record goes to a copy.
  const work = new Work(decided.account && decided.account !== account ? decided.account : cloneAccount(account));
  work.writes.push(...decided.writes);
  work.add([remember(account.accountId, c.call.idempotencyKey, c.call.operation, c.call.requestHash, answer, ctx.nowMs)]);
  return work.done({ ...value, work: answer });
}

/**
 * A paused run resumes: running again from now, so the pause is never
 * charged. Work in any other state is left as it is and answers its state
 * (resuming is idempotent by state), and so is a paused run under a hard
 * budget with no room left, which also names the budget.
 */
function resumeWork(account: AccountState, c: ResumeWorkCommand, ctx: BatchContext): Decision {
  const item = account.work.get(c.workId);
  if (!item) return refused(notFound("work", c.workId));
  if (item.state !== "paused") return { result: { ok: true, value: { state: item.state }, replayed: false }, account, writes: [] };
  // Expired holds first: what they reserved under a budget is its room again.
  const work = lazyExpiry(account, ctx);
  // Under a hard budget with no room left the run stays paused: running again, its next tick could charge nothing and would stop it.
  const room = item.metered ? hardRoom(work.account, item.unit, workAttribution(item.kind, c.workId, item.attribution)) : null;
  if (room && room.roomMicros <= 0n) return work.done({ state: item.state, budgetId: room.budget.budgetId });
  work.add([{ type: "workChange", accountId: account.accountId, workId: c.workId, changes: { state: "running", chargedUntilMs: ctx.nowMs } }]);
  return work.done({ state: "running" });
}
