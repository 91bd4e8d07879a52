import { maxBigint, minBigint, saturated } from "../balance.js";
import type { BudgetAnswer } from "../commands.js";
import type { AccountState, Budget, BudgetScope, ChargeRecord } from "../state.js";
import type { Write } from "../writes.js";
import { remaining } from "./holds.js";

/**
 * Budgets: a cap in one unit on what one attribution scope of an account
 * may spend.
 *
 * - A budget covers a hold or a charge whose attribution names its scope
 *   (`task_id`, `agent_id`, `user_id`, `workspace_id`, `workspace_group_id`)
 *   with the budget's id, in the budget's unit.
 * - `used` is what charges covered by the budget collected in its period:
 *   since the account's cycle start for a per-cycle budget (a new cycle
 *   starts it at 0), since the budget was set otherwise.
 * - Open holds reserve against the budgets that cover them as they reserve
 *   against the balance: `room = limit − used − reserved`.
 * - A `hard` budget is never passed: an Authorize, ExtendHold or StartWork
 *   whose amount does not fit in its room is denied `BUDGET_EXCEEDED`, a
 *   paused run under one with no room left is not resumed; a
 *   Charge collects at most the room (its own hold's remainder included) and
 *   leaves the rest uncollected, and `proceed` is false once nothing is left.
 * - A `soft` budget never refuses; every budget emits `budget_crossed` once
 *   per threshold per period when used reaches the threshold's percent of
 *   the limit.
 * - A Reverse gives back to every budget over the reversed charge what the
 *   charge collected, when the budget counted it: made in the budget's
 *   current period, after the budget was set.
 */

/** The attribution key that names each scope. */
export const SCOPE_ATTRIBUTE: Record<BudgetScope, string> = {
  task: "task_id",
  agent: "agent_id",
  user: "user_id",
  workspace: "workspace_id",
  workspace_group: "workspace_group_id",
};

/** Soft budgets warn at these percents unless support names others. */
export const DEFAULT_SOFT_THRESHOLDS: readonly number[] = [80, 100];

export const budgetIdOf = (unit: string, scope: BudgetScope, scopeId: string): string => `${unit}/${scope}/${scopeId}`;

/** Whether usage in `unit` attributed to `attribution` falls under the budget. */
export function covers(budget: Pick<Budget, "unit" | "scope" | "scopeId">, unit: string, attribution: Record<string, string>): boolean {
  return budget.unit === unit && budget.scopeId !== "" && attribution[SCOPE_ATTRIBUTE[budget.scope]] === budget.scopeId;
}

/**
 * The budgets of the account in `unit` that `attribution` falls under; with `usageAtMs`, those usage of that moment counts
 * in: a per-cycle budget counts its cycle's usage, so usage reported late from an earlier cycle is not its.
 */
export function covering(account: AccountState, unit: string, attribution: Record<string, string>, usageAtMs?: number): Budget[] {
  return [...account.budgets.values()].filter((budget) => covers(budget, unit, attribution) && (usageAtMs === undefined || inPeriod(account, budget, usageAtMs)));
}

/** Whether usage of `usageAtMs` falls in the budget's current period (a per-cycle budget's: the account's cycle). */
function inPeriod(account: AccountState, budget: Budget, usageAtMs: number): boolean {
  return !budget.perCycle || account.cycle === null || usageAtMs >= account.cycle.startMs;
}

/**
 * A charge on a hold counts under the budget scopes its hold was checked against: one the hold names (its agent_id…) named
 * otherwise by the charge would take the usage out of the budget that reserved it. The first such key, or null.
 */
export function scopeMovedBy(held: Record<string, string>, charged: Record<string, string>): { key: string; held: string; sent: string } | null {
  for (const key of Object.values(SCOPE_ATTRIBUTE)) {
    if (held[key] && charged[key] && charged[key] !== held[key]) return { key, held: held[key], sent: charged[key] };
  }
  return null;
}

/** A per-cycle budget counts from the account's cycle start: usage of an earlier cycle is not its. */
function current(account: AccountState, budget: Budget): boolean {
  return !budget.perCycle || account.cycle === null || budget.periodStartMs === account.cycle.startMs;
}

/** What the budget has used in its period. */
export function usedOf(account: AccountState, budget: Budget): bigint {
  return current(account, budget) ? budget.usedMicros : 0n;
}

/** Where the budget's current period starts (per cycle: the account's cycle, null before one opens). */
function periodStartOf(account: AccountState, budget: Budget): number | null {
  return budget.perCycle ? (account.cycle?.startMs ?? null) : budget.periodStartMs;
}

function crossedOf(account: AccountState, budget: Budget): number[] {
  return current(account, budget) ? budget.crossedPercents : [];
}

/** What the open holds the budget covers still reserve (`exceptHoldId`'s left out). */
export function reservedOf(account: AccountState, budget: Budget, exceptHoldId: string | null = null): bigint {
  const key = SCOPE_ATTRIBUTE[budget.scope];
  let reservedMicros = 0n;
  for (const hold of account.holds.values()) {
    if (hold.status === "open" && hold.holdId !== exceptHoldId && hold.unit === budget.unit && hold.attribution[key] === budget.scopeId) reservedMicros += remaining(hold);
  }
  return reservedMicros;
}

/** limit − used − reserved: what the budget still lets be reserved or charged. */
export function roomOf(account: AccountState, budget: Budget, exceptHoldId: string | null = null): bigint {
  return budget.limitMicros - usedOf(account, budget) - reservedOf(account, budget, exceptHoldId);
}

/**
 * The tightest hard budget over `attribution` and its room, counting the
 * hold `exceptHoldId`'s remainder as the caller's own; null when no hard
 * budget covers it.
 */
export function hardRoom(
  account: AccountState, unit: string, attribution: Record<string, string>, exceptHoldId: string | null = null, usageAtMs?: number,
): { budget: Budget; roomMicros: bigint } | null {
  let tightest: { budget: Budget; roomMicros: bigint } | null = null;
  for (const budget of covering(account, unit, attribution, usageAtMs)) {
    if (budget.mode !== "hard") continue;
    const roomMicros = roomOf(account, budget, exceptHoldId);
    if (!tightest || roomMicros < tightest.roomMicros) tightest = { budget, roomMicros };
  }
  return tightest;
}

/** A reservation of `amountMicros` more: the hard budget it would pass, if any. */
export function reservationPasses(account: AccountState, unit: string, attribution: Record<string, string>, amountMicros: bigint): { budget: Budget; roomMicros: bigint } | null {
  const room = hardRoom(account, unit, attribution);
  return room && room.roomMicros < amountMicros ? room : null;
}

/**
 * What a charge of usage of `usageAtMs` may collect under the hard budgets
 * it counts in: at most their room (the charge's hold's remainder counts as
 * its own). `stopped` names the budget that leaves nothing after the charge.
 */
export function budgetCap(
  account: AccountState, unit: string, attribution: Record<string, string>, holdId: string | null, collectMicros: bigint, usageAtMs: number,
): { collectMicros: bigint; stopped: Budget | null } {
  const room = hardRoom(account, unit, attribution, holdId, usageAtMs);
  if (!room) return { collectMicros, stopped: null };
  const capped = minBigint(collectMicros, room.roomMicros > 0n ? room.roomMicros : 0n);
  return { collectMicros: capped, stopped: room.roomMicros - capped > 0n ? null : room.budget };
}

/**
 * A charge that collected `collectedMicros` under `attribution` for usage of
 * `usageAtMs`: each budget it counts in counts the charge, and emits
 * `budget_crossed` for every threshold it reached this period and had not
 * before.
 */
export function chargeBudgets(account: AccountState, unit: string, attribution: Record<string, string>, collectedMicros: bigint, usageAtMs: number, traceparent: string): Write[] {
  if (collectedMicros <= 0n) return [];
  const writes: Write[] = [];
  for (const budget of covering(account, unit, attribution, usageAtMs)) {
    const usedMicros = saturated(usedOf(account, budget) + collectedMicros);
    const crossed = [...crossedOf(account, budget)];
    for (const threshold of budget.thresholdPercents) {
      if (crossed.includes(threshold) || usedMicros * 100n < BigInt(threshold) * budget.limitMicros) continue;
      crossed.push(threshold);
      const percent = budget.limitMicros > 0n ? (usedMicros * 100n) / budget.limitMicros : 100_000n;
      writes.push({
        type: "outbox",
        event: {
          accountId: account.accountId, kind: "budget_crossed", traceparent,
          payload: {
            budget_id: budget.budgetId, unit, scope: budget.scope, scope_id: budget.scopeId, mode: budget.mode, threshold_percent: threshold,
            percent_used: Number(percent > 100_000n ? 100_000n : percent), used_micros: usedMicros.toString(), limit_micros: budget.limitMicros.toString(),
          },
        },
      });
    }
    writes.push({
      type: "budgetUsage", accountId: account.accountId, budgetId: budget.budgetId, usedMicros, crossedPercents: crossed,
      periodStartMs: periodStartOf(account, budget),
    });
  }
  return writes;
}

/**
 * A budget as support sets it: a new one starts its period now (per cycle:
 * at the account's cycle start); a changed one keeps what it used and the
 * thresholds it already crossed that still apply.
 */
export function setBudget(
  account: AccountState,
  input: { unit: string; scope: BudgetScope; scopeId: string; limitMicros: bigint; mode: Budget["mode"]; perCycle: boolean; thresholdPercents: number[]; reason: string; actor: string },
  nowMs: number,
): Budget {
  const budgetId = budgetIdOf(input.unit, input.scope, input.scopeId);
  const before = account.budgets.get(budgetId);
  const thresholdPercents = input.thresholdPercents.length > 0 || input.mode === "hard" ? [...input.thresholdPercents].sort((x, y) => x - y) : [...DEFAULT_SOFT_THRESHOLDS];
  const periodStartMs = input.perCycle ? (account.cycle?.startMs ?? null) : before && !before.perCycle ? before.periodStartMs : nowMs;
  const kept = before && (before.perCycle === input.perCycle) ? before : null;
  const usedMicros = kept ? usedOf(account, kept) : 0n;
  const crossedPercents = kept ? stillReached(crossedOf(account, kept).filter((t) => thresholdPercents.includes(t)), usedMicros, input.limitMicros) : [];
  return {
    budgetId, accountId: account.accountId, unit: input.unit, scope: input.scope, scopeId: input.scopeId, limitMicros: input.limitMicros, mode: input.mode,
    perCycle: input.perCycle, thresholdPercents, usedMicros, crossedPercents, periodStartMs, reason: input.reason, actor: input.actor, updatedAtMs: nowMs,
    // Its count starts again when it turns per cycle or per set-time: a reversal gives back only a charge counted since.
    createdAtMs: kept ? kept.createdAtMs : nowMs,
  };
}

/**
 * `budget_lifted` when support's change makes a budget stop refusing: it is
 * removed (`after` null), or it was hard with nothing left of its limit and
 * is now soft or has room again. Its banners (notifications) no longer apply.
 */
export function liftedBudget(account: AccountState, before: Budget | undefined, after: Budget | null, traceparent: string): Write[] {
  if (!before) return [];
  if (after !== null && (!usedUp(before, usedOf(account, before)) || usedUp(after, usedOf(account, after)))) return [];
  return [budgetLifted(account, before, after === null, traceparent)];
}

/** The thresholds (percents of `limitMicros`) of `crossed` that `usedMicros` still reaches. */
function stillReached(crossed: number[], usedMicros: bigint, limitMicros: bigint): number[] {
  return crossed.filter((t) => usedMicros * 100n >= BigInt(t) * limitMicros);
}

/**
 * A new cycle lifts each per-cycle budget the cycle before used up or warned
 * about (a threshold crossed, soft or hard): it counts from zero again, so
 * neither its refusal nor its warnings apply (their banners would otherwise
 * pile up, cycle after cycle).
 */
export function liftedByNewCycle(before: AccountState, after: AccountState): Write[] {
  const warned = (b: Budget) => usedUp(b, usedOf(before, b)) || crossedOf(before, b).length > 0;
  return [...before.budgets.values()]
    .filter((b) => b.perCycle && warned(b) && !usedUp(b, usedOf(after, b)) && crossedOf(after, b).length === 0)
    .map((b) => budgetLifted(after, b, false, ""));
}

/** A hard budget with nothing left of its limit: what its fixed banner says, and what stops the Meter streams it covers. */
export function usedUp(budget: Pick<Budget, "mode" | "limitMicros">, usedMicros: bigint): boolean {
  return budget.mode === "hard" && usedMicros >= budget.limitMicros;
}

function budgetLifted(account: AccountState, budget: Budget, removed: boolean, traceparent: string): Write {
  return {
    type: "outbox",
    event: {
      accountId: account.accountId, kind: "budget_lifted", traceparent,
      payload: { budget_id: budget.budgetId, unit: budget.unit, scope: budget.scope, scope_id: budget.scopeId, removed },
    },
  };
}

/**
 * A reversed charge: each budget over it that counted it (the charge was made
 * after the budget was set, of usage in the budget's current period) uses that much
 * less. Thresholds already crossed stay crossed, unless the reversal gives
 * a used-up hard budget room again: it is lifted (`budget_lifted`), as
 * support raising it would be, and the thresholds it no longer reaches can
 * be crossed again.
 */
export function reverseBudgets(account: AccountState, charge: ChargeRecord, traceparent: string): Write[] {
  if (charge.amountMicros <= 0n) return [];
  const writes: Write[] = [];
  for (const budget of covering(account, charge.unit, charge.attribution, charge.usageAtMs)) {
    const periodStartMs = periodStartOf(account, budget);
    if (periodStartMs === null || charge.atMs < budget.createdAtMs || charge.atMs < periodStartMs) continue;
    const usedMicros = maxBigint(0n, usedOf(account, budget) - charge.amountMicros);
    const lifted = usedUp(budget, usedOf(account, budget)) && !usedUp(budget, usedMicros);
    // Lifted, its banners come down: the thresholds it no longer reaches are crossed again when it does.
    const crossedPercents = lifted ? stillReached(crossedOf(account, budget), usedMicros, budget.limitMicros) : [...crossedOf(account, budget)];
    writes.push({ type: "budgetUsage", accountId: account.accountId, budgetId: budget.budgetId, usedMicros, crossedPercents, periodStartMs });
    if (lifted) writes.push(budgetLifted(account, budget, false, traceparent));
  }
  return writes;
}

/** A budget as it counts now: used in its period and what open holds reserve against it. */
export function budgetAnswer(account: AccountState, budget: Budget): BudgetAnswer {
  return {
    budgetId: budget.budgetId, unit: budget.unit, scope: budget.scope, scopeId: budget.scopeId, limitMicros: budget.limitMicros, mode: budget.mode,
    perCycle: budget.perCycle, thresholdPercents: [...budget.thresholdPercents], usedMicros: usedOf(account, budget), reservedMicros: reservedOf(account, budget),
  };
}
