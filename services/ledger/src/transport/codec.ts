import { workKindToProto } from "@tollgate/eligibility";
import { InvalidArgumentError } from "@tollgate/errors";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { bucketToProto, unitFromProto, unitToProto, type Bucket, type RateTable, type Unit } from "@tollgate/rating";
import type { Entry, Hold, Line, Pool } from "../data/entities.js";
import type { OutboxRow, WorkRow } from "../data/ledger-store.js";
import type { PoolFigures } from "../domain/balance.js";
import type { StatusIcon } from "../domain/status-icon.js";
import type { BudgetAnswer } from "../domain/commands.js";
import { BUDGET_SCOPES, type BudgetMode, type BudgetScope } from "../domain/state.js";

const L = ledgerV1;
const E = entitlementsV1;

const ATTRIBUTION_KEYS = [
  "userId", "workspaceId", "workspaceGroupId", "agentId", "conversationId", "taskId", "tool", "block", "model", "deploymentId",
] as const;

/** Attribution as stored on holds and entries: snake_case keys, empty fields left out. */
export function attributionFromProto(attribution: commonV1.Attribution | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!attribution) return result;
  for (const key of ATTRIBUTION_KEYS) {
    const value = attribution[key];
    if (value) result[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  }
  if (attribution.surface) result.surface = commonV1.surfaceToJSON(attribution.surface).slice("SURFACE_".length).toLowerCase();
  return result;
}

export function attributionToProto(stored: Record<string, string>): commonV1.Attribution {
  const result = commonV1.Attribution.fromPartial({});
  for (const key of ATTRIBUTION_KEYS) {
    const value = stored[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
    if (value) result[key] = value;
  }
  if (stored.surface) result.surface = commonV1.surfaceFromJSON(`SURFACE_${stored.surface.toUpperCase()}`);
  return result;
}

export function unitOf(stored: string): commonV1.Unit {
  return unitToProto(stored as Unit);
}

const POOL_KINDS = ["monthly", "bonus", "add_on", "free_grant", "spend_cap"] as const;

export function poolKindFromProto(kind: entitlementsV1.PoolKind): (typeof POOL_KINDS)[number] {
  const name = E.poolKindToJSON(kind).slice("POOL_KIND_".length).toLowerCase();
  if (!POOL_KINDS.includes(name as (typeof POOL_KINDS)[number])) throw new InvalidArgumentError("pool_kind", "is required");
  return name as (typeof POOL_KINDS)[number];
}

export function poolToProto(pool: Pool): ledgerV1.Pool {
  return {
    poolId: pool.poolId,
    kind: E.poolKindFromJSON(`POOL_KIND_${pool.kind.toUpperCase()}`),
    unit: unitOf(pool.unit),
    balanceMicros: pool.balanceMicros,
    grantedMicros: pool.grantedMicros,
    priority: pool.priority,
    expiresAt: pool.expiresAt ?? undefined,
    closed: pool.closed,
    reloadBelowMicros: pool.reloadBelowMicros,
    reloadToMicros: pool.reloadToMicros,
  };
}

/** A stored pool's figures as the balance arithmetic (domain/balance.ts) takes them. */
export function poolFigures(pool: Pool): PoolFigures {
  return { closed: pool.closed, expiresAtMs: pool.expiresAt ? pool.expiresAt.getTime() : null, balanceMicros: BigInt(pool.balanceMicros), grantedMicros: BigInt(pool.grantedMicros) };
}

export function holdStatusToProto(status: string): ledgerV1.HoldStatus {
  return L.holdStatusFromJSON(`HOLD_STATUS_${status.toUpperCase()}`);
}

/** The published rate table versions holds and entries name, by their pricing sequence. */
export type PublishedRateTables = ReadonlyMap<bigint, RateTable>;

/** The table id and per-table version a recorded sequence names (zero and empty when nothing priced it). */
function rateTableOf(sequence: string, rates: PublishedRateTables) {
  const table = rates.get(BigInt(sequence));
  return { rateTableId: table?.tableId ?? "", rateTableVersion: (table?.version ?? 0n).toString() };
}

export function holdToProto(hold: Hold, rates: PublishedRateTables): ledgerV1.Hold {
  return {
    holdId: hold.holdId,
    accountId: hold.accountId,
    unit: unitOf(hold.unit),
    amountMicros: hold.amountMicros,
    chargedMicros: hold.chargedMicros,
    status: holdStatusToProto(hold.status),
    expiresAt: hold.expiresAt,
    createdAt: hold.createdAt,
    attribution: attributionToProto(hold.attribution),
    ...rateTableOf(hold.rateTableSequence, rates),
  };
}

export function entryToProto(entry: Entry, lines: Line[], rates: PublishedRateTables, reversedBy?: Map<string, string>): ledgerV1.Entry {
  return {
    entryId: entry.entryId,
    accountId: entry.accountId,
    kind: L.entryKindFromJSON(`ENTRY_KIND_${entry.kind.toUpperCase()}`),
    holdId: entry.holdId ?? "",
    unit: unitOf(entry.unit),
    amountMicros: entry.amountMicros,
    uncollectedMicros: entry.uncollectedMicros,
    bucket: entry.bucket ? bucketToProto(entry.bucket as Bucket) : commonV1.Bucket.BUCKET_UNSPECIFIED,
    attribution: attributionToProto(entry.attribution),
    ...rateTableOf(entry.rateTableSequence, rates),
    reason: entry.reason,
    actor: entry.actor,
    onBehalfOf: entry.onBehalfOf ?? "",
    lines: lines.map((line) => ({ ledgerAccount: line.ledgerAccount, poolId: line.poolId ?? "", amountMicros: line.amountMicros })),
    createdAt: entry.createdAt,
    occurredAt: entry.occurredAt ?? undefined,
    traceId: entry.traceId,
    reversesEntryId: entry.reversesEntryId ?? "0",
    reversedByEntryId: reversedBy?.get(entry.entryId) ?? "0",
  };
}

export function workToProto(row: WorkRow): ledgerV1.MeteredWork {
  return {
    workId: row.work_id,
    kind: row.kind,
    accountId: row.account_id,
    state: row.state,
    replicas: row.replicas,
    usage: usageToProto(row.usage as Record<string, unknown>),
    attribution: attributionToProto(row.attribution),
    chargedUntil: row.charged_until,
    activeSeconds: (BigInt(row.active_ms) / 1000n).toString(),
    chargedMicros: row.charged_micros,
    stopReason: row.stop_reason,
    workKind: workKindToProto(row.work_kind),
    labels: row.labels ?? {},
    createdAt: row.created_at,
    endedAt: row.ended_at ?? undefined,
  };
}

/** A stored time usage (domain JSON) as the pricing contract's Usage. */
function usageToProto(usage: Record<string, unknown>): pricingV1.Usage {
  const s = (v: unknown) => String(v ?? "0");
  switch (usage.kind) {
    case "gpu_time":
      return { kind: { $case: "gpuTime", gpuTime: { gpuType: String(usage.gpuType), replicas: s(usage.replicas), seconds: s(usage.seconds) } } };
    case "cpu_time":
      return { kind: { $case: "cpuTime", cpuTime: { cpuType: String(usage.cpuType), cores: s(usage.cores), seconds: s(usage.seconds) } } };
    case "hardware_profile_time":
      return { kind: { $case: "hardwareProfileTime", hardwareProfileTime: { profile: String(usage.profile), seconds: s(usage.seconds) } } };
    default:
      return { kind: { $case: "activeTime", activeTime: { seconds: s(usage.seconds) } } };
  }
}

export function statusIconToProto(icon: StatusIcon): ledgerV1.StatusIcon {
  return L.statusIconFromJSON(`STATUS_ICON_${icon.toUpperCase()}`);
}

export function eventToProto(row: OutboxRow): ledgerV1.LedgerEvent {
  const base = { sequence: row.sequence, accountId: row.account_id, occurredAt: new Date(row.created_at), traceparent: row.traceparent };
  const p = row.payload as Record<string, string | number>;
  switch (row.kind) {
    case "threshold_crossed":
      return {
        ...base,
        kind: {
          $case: "thresholdCrossed",
          thresholdCrossed: {
            unit: unitOf(String(p.unit)),
            thresholdPercent: Number(p.threshold_percent),
            percentUsed: Number(p.percent_used),
            cycle: String(p.cycle),
          },
        },
      };
    case "pool_expired":
      return {
        ...base,
        kind: {
          $case: "poolExpired",
          poolExpired: {
            poolId: String(p.pool_id),
            kind: E.poolKindFromJSON(`POOL_KIND_${String(p.kind).toUpperCase()}`),
            expiredMicros: String(p.expired_micros),
            unit: p.unit === undefined ? commonV1.Unit.UNIT_UNSPECIFIED : unitOf(String(p.unit)),
          },
        },
      };
    case "deployment_changed":
      return {
        ...base,
        kind: {
          $case: "deploymentChanged",
          deploymentChanged: {
            deploymentId: String(p.deployment_id), state: String(p.state), endpoint: String(p.endpoint ?? ""), replicas: Number(p.replicas ?? 0),
            workKind: workKindToProto(p.work_kind === undefined ? "" : String(p.work_kind)),
          },
        },
      };
    case "negative_limit_reached":
      return {
        ...base,
        kind: {
          $case: "negativeLimitReached",
          negativeLimitReached: {
            unit: unitOf(String(p.unit)), balanceMicros: String(p.balance_micros), negativeLimitMicros: String(p.negative_limit_micros),
            uncollectedMicros: String(p.uncollected_micros), cycle: String(p.cycle),
          },
        },
      };
    case "spend_cap_reached":
      return { ...base, kind: { $case: "spendCapReached", spendCapReached: { capMicros: String(p.cap_micros), spentMicros: String(p.spent_micros), cycle: String(p.cycle) } } };
    case "usage_receded":
      return {
        ...base,
        kind: {
          $case: "usageReceded",
          usageReceded: { unit: unitOf(String(p.unit)), thresholdPercents: (row.payload.threshold_percents as number[]).map(Number), percentUsed: Number(p.percent_used), cycle: String(p.cycle) },
        },
      };
    case "cycle_started":
      return { ...base, kind: { $case: "cycleStarted", cycleStarted: { cycle: String(p.cycle) } } };
    case "pool_reloaded":
      return {
        ...base,
        kind: {
          $case: "poolReloaded",
          poolReloaded: {
            poolId: String(p.pool_id),
            unit: unitOf(String(p.unit)),
            amountMicros: String(p.amount_micros),
            price: p.price_usd_micros === undefined ? undefined : { usdMicros: String(p.price_usd_micros) },
          },
        },
      };
    case "budget_crossed":
      return {
        ...base,
        kind: {
          $case: "budgetCrossed",
          budgetCrossed: {
            budgetId: String(p.budget_id), unit: unitOf(String(p.unit)), scope: budgetScopeToProto(String(p.scope) as BudgetScope), scopeId: String(p.scope_id),
            mode: budgetModeToProto(String(p.mode) as BudgetMode), thresholdPercent: Number(p.threshold_percent), percentUsed: Number(p.percent_used),
            usedMicros: String(p.used_micros), limitMicros: String(p.limit_micros),
          },
        },
      };
    case "budget_lifted":
      return {
        ...base,
        kind: {
          $case: "budgetLifted",
          budgetLifted: { budgetId: String(p.budget_id), unit: unitOf(String(p.unit)), scope: budgetScopeToProto(String(p.scope) as BudgetScope), scopeId: String(p.scope_id), removed: (row.payload as { removed?: unknown }).removed === true },
        },
      };
    case "work_stopped":
      return { ...base, kind: { $case: "workStopped", workStopped: {
        runId: String(p.run_id ?? ""), deploymentId: String(p.deployment_id ?? ""), message: String(p.message ?? ""), budgetId: String(p.budget_id ?? ""),
        workKind: workKindToProto(p.work_kind === undefined ? "" : String(p.work_kind)),
      } } };
    default:
      return { ...base, kind: undefined };
  }
}

export { unitFromProto };

export function budgetScopeToProto(scope: BudgetScope): ledgerV1.BudgetScope {
  return L.budgetScopeFromJSON(`BUDGET_SCOPE_${scope.toUpperCase()}`);
}

export function budgetModeToProto(mode: BudgetMode): ledgerV1.BudgetMode {
  return L.budgetModeFromJSON(`BUDGET_MODE_${mode.toUpperCase()}`);
}

export function budgetScopeFromProto(scope: ledgerV1.BudgetScope): BudgetScope {
  const name = L.budgetScopeToJSON(scope).slice("BUDGET_SCOPE_".length).toLowerCase();
  if (!BUDGET_SCOPES.includes(name as BudgetScope)) throw new InvalidArgumentError("scope", `must be one of ${BUDGET_SCOPES.join(", ")}`);
  return name as BudgetScope;
}

export function budgetModeFromProto(mode: ledgerV1.BudgetMode): BudgetMode {
  if (mode === L.BudgetMode.BUDGET_MODE_SOFT) return "soft";
  if (mode === L.BudgetMode.BUDGET_MODE_HARD) return "hard";
  throw new InvalidArgumentError("mode", "must be SOFT or HARD");
}

export function budgetToProto(b: BudgetAnswer): ledgerV1.Budget {
  return {
    budgetId: b.budgetId, unit: unitOf(b.unit), scope: budgetScopeToProto(b.scope), scopeId: b.scopeId, limitMicros: b.limitMicros.toString(),
    mode: budgetModeToProto(b.mode), perCycle: b.perCycle, thresholdPercents: b.thresholdPercents, usedMicros: b.usedMicros.toString(),
    reservedMicros: b.reservedMicros.toString(),
  };
}
