import type { AccountState, EntryKind, Hold, HoldStatus, IdempotencyRecord, LedgerState, Pool, Work } from "./state.js";

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
  traceId: string;
  atMs: number;
  lines: Line[];
}

export interface OutboxEvent {
  accountId: string;
  kind: "threshold_crossed" | "pool_expired" | "pool_reloaded" | "work_stopped" | "deployment_changed";
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
  | { type: "pool"; pool: Pool }
  | { type: "poolChange"; accountId: string; poolId: string; balanceDeltaMicros: bigint; grantedDeltaMicros: bigint; closed?: true; reloadedAtMs?: number }
  | { type: "hold"; hold: Hold }
  | { type: "holdChange"; accountId: string; holdId: string; chargedDeltaMicros: bigint; status?: HoldStatus; closedAtMs?: number }
  | { type: "entry"; entry: Entry }
  | { type: "outbox"; event: OutboxEvent }
  | { type: "idempotency"; accountId: string; record: IdempotencyRecord }
  | { type: "work"; work: Work }
  | { type: "workChange"; accountId: string; workId: string; changes: Partial<Omit<Work, "workId" | "accountId">> };

function account(state: LedgerState, accountId: string): AccountState {
  const found = state.get(accountId);
  if (!found) throw new Error(`write for an account the batch did not read: ${accountId}`);
  return found;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`write for ${what} the batch did not read`);
  return value;
}

/** Applies writes to a state in place. Invariant violations here are bugs in a rule, not bad input. */
export function applyWrites(state: LedgerState, writes: readonly Write[]): void {
  for (const write of writes) {
    switch (write.type) {
      case "cycle":
        account(state, write.accountId).cycle = { ...write.cycle };
        break;
      case "unit": {
        const a = account(state, write.accountId);
        const unit = a.units.get(write.unit);
        if (unit) {
          unit.negativeLimitMicros = write.negativeLimitMicros;
          unit.lowCreditLimitMicros = write.lowCreditLimitMicros;
        } else {
          a.units.set(write.unit, { unit: write.unit, negativeLimitMicros: write.negativeLimitMicros, lowCreditLimitMicros: write.lowCreditLimitMicros, heldMicros: 0n, crossedPercents: [] });
        }
        break;
      }
      case "held":
        need(account(state, write.accountId).units.get(write.unit), `unit ${write.unit}`).heldMicros += write.deltaMicros;
        break;
      case "crossed":
        need(account(state, write.accountId).units.get(write.unit), `unit ${write.unit}`).crossedPercents = [...write.crossedPercents];
        break;
      case "pool":
        account(state, write.pool.accountId).pools.set(write.pool.poolId, { ...write.pool });
        break;
      case "poolChange": {
        const pool = need(account(state, write.accountId).pools.get(write.poolId), `pool ${write.poolId}`);
        pool.balanceMicros += write.balanceDeltaMicros;
        pool.grantedMicros += write.grantedDeltaMicros;
        if (write.closed) pool.closed = true;
        if (write.reloadedAtMs !== undefined) pool.reloadedAtMs = write.reloadedAtMs;
        break;
      }
      case "hold":
        account(state, write.hold.accountId).holds.set(write.hold.holdId, { ...write.hold });
        break;
      case "holdChange": {
        const hold = need(account(state, write.accountId).holds.get(write.holdId), `hold ${write.holdId}`);
        hold.chargedMicros += write.chargedDeltaMicros;
        if (write.status) hold.status = write.status;
        if (write.closedAtMs !== undefined) hold.closedAtMs = write.closedAtMs;
        break;
      }
      case "idempotency":
        account(state, write.accountId).idempotency.set(write.record.key, write.record);
        break;
      case "work":
        account(state, write.work.accountId).work.set(write.work.workId, { ...write.work });
        break;
      case "workChange":
        Object.assign(need(account(state, write.accountId).work.get(write.workId), `work ${write.workId}`), write.changes);
        break;
      case "entry":
      case "outbox":
        break; // append-only: the store keeps them, the rules never read them back
    }
  }
}

/** A copy of one account the rules may apply writes to without touching the original. */
export function cloneAccount(a: AccountState): AccountState {
  return {
    accountId: a.accountId,
    cycle: a.cycle && { ...a.cycle },
    facts: a.facts,
    units: new Map([...a.units].map(([k, u]) => [k, { ...u, crossedPercents: [...u.crossedPercents] }])),
    pools: new Map([...a.pools].map(([k, p]) => [k, { ...p }])),
    holds: new Map([...a.holds].map(([k, h]) => [k, { ...h }])),
    idempotency: new Map(a.idempotency),
    work: new Map([...a.work].map(([k, w]) => [k, { ...w }])),
  };
}
