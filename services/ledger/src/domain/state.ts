import type { Usage } from "@tollgate/rating";

/**
 * The ledger's state as the state machine sees it: what the store read and
 * locked for one batch. Money is bigint micro-units, time is epoch
 * milliseconds; nothing here knows of protobuf or PostgreSQL.
 */
import type { KindLimits } from "./rules/kind-limits.js";

export type PoolKind = "monthly" | "bonus" | "add_on" | "free_grant" | "spend_cap";
export const POOL_KINDS: readonly PoolKind[] = ["monthly", "bonus", "add_on", "free_grant", "spend_cap"];
export type HoldStatus = "open" | "charged" | "released" | "expired";
export type EntryKind = "grant" | "charge" | "adjust" | "expire" | "reset" | "reverse";

export interface Pool {
  poolId: string;
  accountId: string;
  unit: string;
  kind: PoolKind;
  priority: number;
  /** Epoch ms; null never expires. */
  expiresAtMs: number | null;
  createdAtMs: number;
  balanceMicros: bigint;
  /** What was granted into the pool: its grant, auto reloads and spend-cap changes; support Adjusts do not count. */
  grantedMicros: bigint;
  closed: boolean;
  /** Makes a grant once-only (`monthly:…`, `signup:…`, `grant:…`). */
  grantKey: string;
  /**
   * An add-on's auto reload: below `belowMicros`, topped up to `toMicros`, at most once per `cooldownMs`;
   * `priceUsdMicros`: what each whole unit of a reload is billed at (the plan's add-on price when the pool
   * was granted), carried by its `pool_reloaded` event; absent: reloads carry no price.
   */
  reload: { belowMicros: bigint; toMicros: bigint; cooldownMs: number; priceUsdMicros?: bigint } | null;
  reloadedAtMs: number | null;
  /** A monthly pool: what the cycle's plans gave it (its allotment, raised by a move to a larger plan); Adjusts do not count. Unset: as granted. */
  allottedMicros?: bigint;
}

export interface Hold {
  holdId: string;
  accountId: string;
  unit: string;
  bucket: string;
  amountMicros: bigint;
  /** Everything charged on the hold, usage above the hold included. */
  chargedMicros: bigint;
  status: HoldStatus;
  expiresAtMs: number;
  createdAtMs: number;
  closedAtMs: number | null;
  attribution: Record<string, string>;
  /** The rate table version (publication sequence) the hold was authorized at: every charge on it is priced there. */
  rateTableVersion: bigint;
  /** The running total of the usage its charges reported (rules/running-total.ts), and the rounded price of all of it. */
  pricedUsage: Usage[];
  pricedMicros: bigint;
}

/** One (account, unit): its limits, what open holds reserve, and the thresholds crossed this cycle. */
export interface UnitState {
  unit: string;
  negativeLimitMicros: bigint;
  lowCreditLimitMicros: bigint;
  heldMicros: bigint;
  crossedPercents: number[];
}

export interface IdempotencyRecord {
  key: string;
  operation: string;
  requestHash: string;
  response: unknown;
  atMs: number;
}

export type WorkKind = "run" | "deployment";

/** Where a run or deployment stands: running or paused, then one of the ends. */
export const WORK_STATES = ["running", "paused", "finished", "failed", "cancelled", "stopped", "undeployed"] as const;

export interface Work {
  workId: string;
  kind: WorkKind;
  accountId: string;
  unit: string;
  state: string;
  replicas: number;
  chargedUntilMs: number;
  activeMs: number;
  chargedMicros: bigint;
  attribution: Record<string, string>;
  endpoint: string;
  stopReason: string;
  /** What one second of the work is (a run's active time, a deployment's hardware per replica), as the caller priced it; opaque here. */
  usage: Record<string, unknown>;
  /** Descriptive key/value pairs, never priced. */
  labels: Record<string, string>;
  /** Where the work runs (run location, inference and compute source), as decided at its start. */
  context: Record<string, string>;
  /** False when the plan leaves the work unmetered: its time is recorded, never charged. */
  metered: boolean;
  /** Active seconds (runs) or replica-seconds (deployments) priced so far, and the rounded price of them all. */
  pricedQuantity: bigint;
  pricedMicros: bigint;
  createdAtMs: number;
  /** The kind of work ("guardrail", "custom_script"…; empty: none named). */
  workKind?: string;
  /** The rate table its ticks price it with (absent on work started before it was kept: the account's). */
  rateTableId?: string;
}

/** A charge a command names (a reversal): what it drew from each pool, and the entry that reversed it, if any. */
export interface ChargeRecord {
  entryId: bigint;
  accountId: string;
  unit: string;
  bucket: string;
  amountMicros: bigint;
  /** Pool id → what the charge took from it (positive). */
  drawnMicros: Map<string, bigint>;
  reversedByEntryId: bigint | null;
  /** What the charge was attributed to, when it was made, and when its usage happened (late usage: before): the budgets that counted it. */
  attribution: Record<string, string>;
  atMs: number;
  usageAtMs: number;
}

export type BudgetScope = "task" | "agent" | "user" | "workspace" | "workspace_group";
export const BUDGET_SCOPES: readonly BudgetScope[] = ["task", "agent", "user", "workspace", "workspace_group"];
export type BudgetMode = "soft" | "hard";

/** What support sets on a budget (SetBudget), as the budget keeps it and answers it. */
export interface BudgetTerms {
  unit: string;
  scope: BudgetScope;
  scopeId: string;
  limitMicros: bigint;
  mode: BudgetMode;
  /** Used counts from the account's current cycle start (false: since the budget was set). */
  perCycle: boolean;
  /** Percent-of-limit thresholds that emit `budget_crossed`, once each per period (empty when set: a soft budget warns at 80 % and 100 %, a hard one at none). */
  thresholdPercents: number[];
}

/**
 * A cap in one unit on what one attribution scope of the account may spend
 * (a run or task, an agent, a user, a workspace, a workspace group): charges
 * whose attribution names the scope count against it, open holds that name
 * it reserve against it (rules/budgets.ts).
 */
export interface Budget extends BudgetTerms {
  /** `<unit>/<scope>/<scope id>`: one budget per unit and scope. */
  budgetId: string;
  accountId: string;
  /** Collected by charges in the budget's period (see `periodStartMs`). */
  usedMicros: bigint;
  crossedPercents: number[];
  /** The cycle start `usedMicros` counts from (per-cycle budgets); null before the first charge. */
  periodStartMs: number | null;
  reason: string;
  actor: string;
  updatedAtMs: number;
  /** When it began counting: when support first set it, or last turned it per cycle or per set-time (its count started again). A budget counts no charge made before. */
  createdAtMs: number;
}

/** Plan facts the rules need; the entitlements view supplies them. */
export interface AccountFacts {
  suspended: boolean;
  /** Pool kinds after monthly, in draw-down order. */
  drawdownOrder: string[];
  /** Percent-used thresholds that emit `threshold_crossed`. */
  thresholdPercents: number[];
  /** The plan's (and account's) limits per kind of work (rules/kind-limits.ts). */
  kindLimits?: readonly KindLimits[];
}

export interface AccountState {
  accountId: string;
  /**
   * Null until the account's first cycle is opened. `openedAtMs`: when the cycle was opened (the rollover is lazy: the
   * account's first call in it), unset for a cycle opened before it was recorded.
   */
  cycle: { planId: string; planVersion: bigint; startMs: number; endMs: number; openedAtMs?: number } | null;
  facts: AccountFacts;
  units: Map<string, UnitState>;
  /** Every live pool and every pool a command names (closed ones too, for grant keys). */
  pools: Map<string, Pool>;
  /** Every open hold and every hold a command names. */
  holds: Map<string, Hold>;
  /** The records of the idempotency keys the commands carry. */
  idempotency: Map<string, IdempotencyRecord>;
  work: Map<string, Work>;
  /** The charge entries the commands name (by entry id), for reversals. */
  charges: Map<string, ChargeRecord>;
  /** Entries the commands name that are not charges (entry id → kind): a reversal of one is refused, naming what it is. */
  otherEntries: Map<string, EntryKind>;
  /** Every budget of the account, by id. */
  budgets: Map<string, Budget>;
}

/**
 * The account's pools oldest first (then by id). A rule that writes once per
 * pool walks them in this order, so the journal does not depend on the order
 * a store happened to read them in.
 */
export function poolsOldestFirst(account: AccountState): Pool[] {
  return [...account.pools.values()].sort(
    (a, b) => a.createdAtMs - b.createdAtMs || (a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0),
  );
}

/** What a batch reads: the accounts its commands touch. */
export type LedgerState = Map<string, AccountState>;

export function emptyAccount(accountId: string, facts: Partial<AccountFacts> = {}): AccountState {
  return {
    accountId,
    cycle: null,
    facts: { suspended: false, drawdownOrder: [], thresholdPercents: [], ...facts },
    units: new Map(),
    pools: new Map(),
    holds: new Map(),
    idempotency: new Map(),
    work: new Map(),
    charges: new Map(),
    otherEntries: new Map(),
    budgets: new Map(),
  };
}

/**
 * New identifiers, supplied by the store (a sequence, UUIDs): the rules stay
 * deterministic given the ids they are handed.
 */
export interface Ids {
  entryId(): bigint;
  holdId(): string;
  poolId(): string;
}

/** Everything a batch is decided at: the time, where new ids come from, and the call's trace. */
export interface BatchContext {
  nowMs: number;
  ids: Ids;
  /**
   * The trace of the call being decided: the entries and events the rules
   * write on their own account (a cycle's allotment, a lapse, an expiry, an
   * auto reload) carry it, so a support agent finds the call that caused them.
   * Unset: none (a test, or a sweep outside any trace).
   */
  trace?: Trace;
}

export interface Trace {
  traceId: string;
  traceparent: string;
}

/** The trace a rule records on what it writes by itself: the call's, or none. */
export function traceOf(ctx: BatchContext): Trace {
  return ctx.trace ?? { traceId: "", traceparent: "" };
}
