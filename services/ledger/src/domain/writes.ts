import type { Usage } from "@tollgate/rating";
import type { AccountState, Budget, ChargeRecord, EntryKind, Hold, HoldStatus, IdempotencyRecord, LedgerState, Pool, Work } from "./state.js";

/** One journal line: a pool (`pool:<id>`) or a counter-account (`usage:…`, `grants:…`, `adjustments:…`, `purchases:…`). */
export interface Line {
  ledgerAccount: string;
  poolId: string | null;
  amountMicros: bigint;
}

/** A journal entry; its lines sum to zero and name each pool at most once. */
export interface Entry {
  entryId: bigint;
  accountId: string;
  kind: EntryKind;
  unit: string;
  holdId: string | null;
  bucket: string;
  amountMicros: bigint;
  uncollectedMicros: bigint;
  attribution: Record<string, string>;
  rateTableVersion: bigint;
  reason: string;
  actor: string;
  /** The person the actor acted for (the console's user), when a service acted for someone. */
  onBehalfOf?: string;
  traceId: string;
  atMs: number;
  /** Late usage: when the charged usage happened (usage windows and cycles count it then); absent: at `atMs`. */
  occurredAtMs?: number;
  lines: Line[];
  /** A `reverse` entry: the charge it returns (at most one reversal per charge). */
  reversesEntryId?: bigint;
}

export interface OutboxEvent {
  accountId: string;
  kind: "threshold_crossed" | "budget_crossed" | "budget_lifted" | "pool_expired" | "pool_reloaded" | "work_stopped" | "deployment_changed" | "spend_cap_reached" | "negative_limit_reached" | "cycle_started" | "usage_receded";
  payload: Record<string, unknown>;
  traceparent: string;
}

/**
 * What the store makes of a command: rows to insert and deltas to add. The
 * state machine applies the same writes to its own copy of the state, so the
 * next command of a batch sees them ({@link applyWrites} is the only place
 * state changes).
 */
export type Write =
  | { type: "cycle"; accountId: string; cycle: NonNullable<AccountState["cycle"]> }
  | { type: "unit"; accountId: string; unit: string; negativeLimitMicros: bigint; lowCreditLimitMicros: bigint }
  | { type: "held"; accountId: string; unit: string; deltaMicros: bigint }
  | { type: "crossed"; accountId: string; unit: string; crossedPercents: number[] }
  /** A new pool. */
  | { type: "pool"; pool: Pool }
  | {
      type: "poolChange"; accountId: string; poolId: string; balanceDeltaMicros: bigint; grantedDeltaMicros: bigint; closed?: true; reloadedAtMs?: number;
      /** A monthly pool's new allotment (Pool.allottedMicros). */
      allottedMicros?: bigint;
      /** Auto reload off: support took the pool below its level (an Adjust), which a reload must not buy back. */
      reloadOff?: true;
    }
  | { type: "hold"; hold: Hold }
  | {
      type: "holdChange"; accountId: string; holdId: string; chargedDeltaMicros: bigint; status?: HoldStatus; closedAtMs?: number; amountDeltaMicros?: bigint; expiresAtMs?: number;
      /** The hold's new running total of usage and its price (replacing the old). */
      priced?: { usage: Usage[]; micros: bigint };
    }
  | { type: "entry"; entry: Entry }
  | { type: "outbox"; event: OutboxEvent }
  | { type: "idempotency"; accountId: string; record: IdempotencyRecord }
  | { type: "work"; work: Work }
  | { type: "workChange"; accountId: string; workId: string; changes: Partial<Omit<Work, "workId" | "accountId">> }
  /** A budget set (or changed) by support: its definition, and its usage as it now counts. */
  | { type: "budget"; budget: Budget }
  /** A budget support removed. */
  | { type: "budgetDeleted"; accountId: string; budgetId: string }
  /** What a budget has used in its period, as the charge left it (absolute: the account's lock orders them). */
  | { type: "budgetUsage"; accountId: string; budgetId: string; usedMicros: bigint; crossedPercents: number[]; periodStartMs: number | null }
  /** A commit left the unit with no room (rules/room-exhausted.ts): a signal to listeners, not a row. */
  | { type: "roomExhausted"; accountId: string; unit: string; roomMicros: bigint };

function account(state: LedgerState, accountId: string): AccountState {
  const found = state.get(accountId);
  if (!found) throw new Error(`write for an account the batch did not read: ${accountId}`);
  return found;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`write for ${what} the batch did not read`);
  return value;
}

/**
 * Applies writes to a state. Rows are replaced, never changed in place, so a
 * copy made with {@link cloneAccount} shares the untouched rows and the state
 * it was copied from stays as it was. Invariant violations here are bugs in a
 * rule, not bad input.
 */
export function applyWrites(state: LedgerState, writes: readonly Write[]): void {
  for (const write of writes) {
    switch (write.type) {
      case "cycle":
        account(state, write.accountId).cycle = { ...write.cycle };
        break;
      case "unit": {
        const a = account(state, write.accountId);
        const unit = a.units.get(write.unit) ?? { unit: write.unit, heldMicros: 0n, crossedPercents: [] };
        a.units.set(write.unit, { ...unit, negativeLimitMicros: write.negativeLimitMicros, lowCreditLimitMicros: write.lowCreditLimitMicros });
        break;
      }
      case "held": {
        const units = account(state, write.accountId).units;
        const unit = need(units.get(write.unit), `unit ${write.unit}`);
        units.set(write.unit, { ...unit, heldMicros: unit.heldMicros + write.deltaMicros });
        break;
      }
      case "crossed": {
        const units = account(state, write.accountId).units;
        units.set(write.unit, { ...need(units.get(write.unit), `unit ${write.unit}`), crossedPercents: [...write.crossedPercents] });
        break;
      }
      case "pool":
        account(state, write.pool.accountId).pools.set(write.pool.poolId, { ...write.pool });
        break;
      case "poolChange": {
        const pools = account(state, write.accountId).pools;
        const pool = need(pools.get(write.poolId), `pool ${write.poolId}`);
        pools.set(write.poolId, {
          ...pool,
          balanceMicros: pool.balanceMicros + write.balanceDeltaMicros,
          grantedMicros: pool.grantedMicros + write.grantedDeltaMicros,
          closed: pool.closed || write.closed === true,
          reloadedAtMs: write.reloadedAtMs ?? pool.reloadedAtMs,
          reload: write.reloadOff ? null : pool.reload,
          ...(write.allottedMicros !== undefined ? { allottedMicros: write.allottedMicros } : pool.allottedMicros !== undefined ? { allottedMicros: pool.allottedMicros } : {}),
        });
        break;
      }
      case "hold":
        account(state, write.hold.accountId).holds.set(write.hold.holdId, { ...write.hold });
        break;
      case "holdChange": {
        const holds = account(state, write.accountId).holds;
        const hold = need(holds.get(write.holdId), `hold ${write.holdId}`);
        holds.set(write.holdId, {
          ...hold,
          chargedMicros: hold.chargedMicros + write.chargedDeltaMicros,
          amountMicros: hold.amountMicros + (write.amountDeltaMicros ?? 0n),
          expiresAtMs: write.expiresAtMs ?? hold.expiresAtMs,
          status: write.status ?? hold.status,
          closedAtMs: write.closedAtMs ?? hold.closedAtMs,
          pricedUsage: write.priced?.usage ?? hold.pricedUsage,
          pricedMicros: write.priced?.micros ?? hold.pricedMicros,
        });
        break;
      }
      case "idempotency":
        account(state, write.accountId).idempotency.set(write.record.key, write.record);
        break;
      case "work":
        account(state, write.work.accountId).work.set(write.work.workId, { ...write.work });
        break;
      case "workChange": {
        const work = account(state, write.accountId).work;
        work.set(write.workId, { ...need(work.get(write.workId), `work ${write.workId}`), ...write.changes });
        break;
      }
      case "entry": {
        // Append-only: the store keeps entries; the rules read back only charges (what a reversal returns) and whether one was
        // reversed, and the kind of any other entry a reversal names.
        const { entry } = write;
        const { charges, otherEntries } = account(state, entry.accountId);
        if (entry.kind === "charge") charges.set(String(entry.entryId), chargeRecordOf(entry, null));
        else otherEntries.set(String(entry.entryId), entry.kind);
        const reversed = entry.reversesEntryId === undefined ? undefined : charges.get(String(entry.reversesEntryId));
        if (reversed) charges.set(String(entry.reversesEntryId), { ...reversed, reversedByEntryId: entry.entryId });
        break;
      }
      case "budget":
        account(state, write.budget.accountId).budgets.set(write.budget.budgetId, { ...write.budget });
        break;
      case "budgetDeleted":
        account(state, write.accountId).budgets.delete(write.budgetId);
        break;
      case "budgetUsage": {
        const budgets = account(state, write.accountId).budgets;
        const budget = need(budgets.get(write.budgetId), `budget ${write.budgetId}`);
        budgets.set(write.budgetId, { ...budget, usedMicros: write.usedMicros, crossedPercents: [...write.crossedPercents], periodStartMs: write.periodStartMs });
        break;
      }
      case "outbox":
      case "roomExhausted":
        break; // append-only or sent: the store keeps or sends them, the rules never read them back
    }
  }
}

/** What a charge entry drew from each pool, as a reversal needs it. */
export function chargeRecordOf(
  entry: Pick<Entry, "entryId" | "accountId" | "unit" | "bucket" | "amountMicros" | "lines" | "attribution" | "atMs" | "occurredAtMs">, reversedByEntryId: bigint | null,
): ChargeRecord {
  const drawnMicros = new Map<string, bigint>();
  for (const line of entry.lines) if (line.poolId !== null) drawnMicros.set(line.poolId, -line.amountMicros);
  return {
    entryId: entry.entryId, accountId: entry.accountId, unit: entry.unit, bucket: entry.bucket, amountMicros: entry.amountMicros, drawnMicros, reversedByEntryId,
    attribution: entry.attribution, atMs: entry.atMs, usageAtMs: entry.occurredAtMs ?? entry.atMs,
  };
}

/** A copy of one account that writes may be applied to without touching the original (rows are shared until replaced). */
export function cloneAccount(a: AccountState): AccountState {
  return {
    accountId: a.accountId,
    cycle: a.cycle,
    facts: a.facts,
    units: new Map(a.units),
    pools: new Map(a.pools),
    holds: new Map(a.holds),
    idempotency: new Map(a.idempotency),
    work: new Map(a.work),
    charges: new Map(a.charges),
    otherEntries: new Map(a.otherEntries),
    budgets: new Map(a.budgets),
  };
}
