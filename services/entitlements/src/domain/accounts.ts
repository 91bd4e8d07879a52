import { createHash } from "node:crypto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { formatAmount, UNITS, type Unit } from "@tollgate/rating";
import type { Account } from "../data/account.entity.js";
import type { EntitlementsStore } from "../data/entitlements-store.js";

export interface CreateAccountCommand {
  accountId: string;
  name: string;
  planId: string;
  seats: number;
  deploymentMode: "cloud" | "self_hosted";
  billingMode: "credits" | "byom_usd";
  cycleAnchor: Date;
  adminEmails: string[];
  spendCapMicros: bigint;
}

export interface UpdateAccountCommand {
  accountId: string;
  planId?: string;
  status?: "active" | "suspended";
  seats?: number;
  spendCapMicros?: bigint;
  limits?: LimitRow[];
  actor: string;
  reason: string;
}

/** A limit row: a unit's (no work kind) or one kind of work's in that unit (rules/kind-limits.ts in the ledger). */
export interface LimitRow {
  unit: string;
  lowCreditLimitMicros: bigint;
  negativeLimitMicros: bigint;
  workKind?: string;
  draftsAtZero?: boolean;
  stopMessage?: string;
}

const limitKey = (l: { unit: string; workKind?: string }) => `${l.unit}:${l.workKind ?? ""}`;

/**
 * A limit row's amounts are distances (how much must be left; how far below
 * zero work may go), never negative: the ledger refuses every write under a
 * negative one. Checked wherever limits are set (a plan's, an account's
 * overrides); `field` names the row, e.g. `plan.limits[0]`.
 */
export function limitsNotNegative(row: LimitRow, field: string): void {
  if (row.negativeLimitMicros < 0n) throw new InvalidArgumentError(`${field}.negative_limit_micros`, "is a distance below zero and must not be negative");
  if (row.lowCreditLimitMicros < 0n) throw new InvalidArgumentError(`${field}.low_credit_limit_micros`, "must not be negative");
}

/** A unit as limit rows name it, from the contract's `UNIT_CREDITS` or the console's `credits`. */
const unitOf = (unit: string): Unit => unit.replace(/^UNIT_/, "").toLowerCase() as Unit;

/**
 * A unit's negative limit bounds what any charge collects, so a kind's may
 * not exceed it: the kind's work stops first. Checked over the rows as they
 * apply (a plan's, or an account's overrides).
 */
export function kindsWithinUnits(
  rows: readonly LimitRow[],
  field: string,
  units: ReadonlyMap<string, bigint> = new Map(rows.filter((r) => !r.workKind).map((r) => [r.unit, r.negativeLimitMicros])),
  indexOf: (row: LimitRow, at: number) => number = (_row, at) => at,
): void {
  rows.forEach((row, at) => {
    if (!row.workKind) return;
    const unitLimit = units.get(row.unit) ?? 0n;
    if (row.negativeLimitMicros > unitLimit) {
      const index = indexOf(row, at);
      throw new InvalidArgumentError(
        index >= 0 ? `${field}[${index}].negative_limit_micros` : field,
        `the ${row.workKind} negative limit (${formatAmount(row.negativeLimitMicros, unitOf(row.unit))}) may not exceed the ${unitOf(row.unit)} negative limit (${formatAmount(unitLimit, unitOf(row.unit))}), which bounds every charge`,
      );
    }
  });
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function validateId(field: string, value: string): string {
  if (!ID.test(value)) throw new InvalidArgumentError(field, "use 1–128 letters, digits, '_', '.', ':' or '-'");
  return value;
}

function hashOf(command: CreateAccountCommand): string {
  return createHash("sha256")
    .update(JSON.stringify(command, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))
    .digest("hex");
}

const NOT_BYOM = "spend caps are for bring-your-own-model accounts";

/** Spend caps bound bring-your-own-model spending in USD: a credits account is created without one (the ledger would ignore it). */
function capOnCreate(billingMode: string, spendCapMicros: bigint): void {
  if (billingMode !== "byom_usd" && spendCapMicros > 0n) throw new InvalidArgumentError("spend_cap_micros", NOT_BYOM);
}

/**
 * Setting a cap on a credits account is refused, 0 included (it would be
 * recorded as a change of nothing), unless 0 clears a cap an earlier release
 * let the account keep.
 */
function capOnSet(account: Account, spendCapMicros: bigint): void {
  if (account.billingMode !== "byom_usd" && (spendCapMicros > 0n || BigInt(account.spendCapMicros) === 0n)) throw new InvalidArgumentError("spend_cap_micros", NOT_BYOM);
}

/** An account created before under the id: the original for the same request, else ACCOUNT_EXISTS. */
function sameOrRefused(existing: Account, accountId: string, requestHash: string): Account {
  if (existing.requestHash === requestHash) return existing;
  throw new AlreadyExistsError(`account ${accountId} already exists`, "ACCOUNT_EXISTS", { account_id: accountId });
}

export class Accounts {
  constructor(private readonly store: EntitlementsStore) {}

  /** Creating the same account twice with the same request returns the original. */
  async create(command: CreateAccountCommand): Promise<Account> {
    validateId("account_id", command.accountId);
    if (!command.name.trim()) throw new InvalidArgumentError("name", "is required");
    if (!Number.isInteger(command.seats) || command.seats < 1) throw new InvalidArgumentError("seats", "must be at least 1");
    if (command.spendCapMicros < 0n) throw new InvalidArgumentError("spend_cap_micros", "must not be negative");
    capOnCreate(command.billingMode, command.spendCapMicros);
    // Each is one plain email address: the request's edge check (grpc-kit's request rules) refuses anything else.
    const requestHash = hashOf(command);
    const existing = await this.store.findAccount(command.accountId);
    if (existing) return sameOrRefused(existing, command.accountId, requestHash);
    const plan = await this.store.latestPlan(command.planId);
    if (!plan) throw new NotFoundError("plan", command.planId);
    const created = await this.store.insertAccount({ ...command, planVersion: plan.version, requestHash });
    // Another create of the id committed in between (two sent at once): answered as a repeat, after it.
    return created ?? sameOrRefused((await this.store.findAccount(command.accountId))!, command.accountId, requestHash);
  }

  async get(accountId: string): Promise<Account> {
    const account = await this.store.findAccount(accountId);
    if (!account) throw new NotFoundError("account", accountId);
    return account;
  }

  async update(command: UpdateAccountCommand): Promise<Account> {
    if (!command.actor) throw new InvalidArgumentError("actor", "is required");
    if (!command.reason) throw new InvalidArgumentError("reason", "is required");
    const updated = await this.store.updateAccount(command.accountId, (account) => this.changesOf(command, account));
    if (!updated) throw new NotFoundError("account", command.accountId);
    return updated;
  }

  /** What `command` changes in `account` (as committed, under its lock): every check before anything is written. */
  private async changesOf(command: UpdateAccountCommand, account: Account): Promise<Partial<Account>> {
    const changes: Partial<Account> = {};
    if (command.planId) {
      const plan = await this.store.latestPlan(command.planId);
      if (!plan) throw new NotFoundError("plan", command.planId);
      changes.planId = plan.planId;
      changes.planVersion = plan.version;
    }
    if (command.status) changes.status = command.status;
    if (command.spendCapMicros !== undefined) {
      if (command.spendCapMicros < 0n) throw new InvalidArgumentError("spend_cap_micros", "must not be negative");
      capOnSet(account, command.spendCapMicros);
      changes.spendCapMicros = command.spendCapMicros.toString();
    }
    if (command.limits && command.limits.length > 0) {
      // One override per unit, and per kind of work in a unit.
      const overrides = new Map(account.limitOverrides.map((o) => [limitKey(o), o]));
      command.limits.forEach((limit, index) => {
        if (!UNITS.includes(limit.unit as Unit)) throw new InvalidArgumentError(`limits[${index}].unit`, "is required");
        limitsNotNegative(limit, `limits[${index}]`);
        // Two rows for one unit (and kind) would leave the last one silently winning.
        if (command.limits!.findIndex((other) => limitKey(other) === limitKey(limit)) < index) {
          throw new InvalidArgumentError(`limits[${index}]`, `has limits for ${limit.workKind ? `${limit.workKind} in ` : ""}${limit.unit} already`);
        }
        overrides.set(limitKey(limit), {
          unit: limit.unit, lowCreditLimitMicros: limit.lowCreditLimitMicros.toString(), negativeLimitMicros: limit.negativeLimitMicros.toString(),
          ...(limit.workKind ? { workKind: limit.workKind, draftsAtZero: limit.draftsAtZero === true, stopMessage: limit.stopMessage ?? "" } : {}),
        });
      });
      const merged = [...overrides.values()];
      // As they apply: the plan's unit rows, then the account's overrides.
      const plan = await this.store.planVersion(BigInt(changes.planVersion ?? account.planVersion));
      const planUnits = ((plan?.document.limits ?? []) as { unit?: string; negativeLimitMicros?: string; workKind?: string }[])
        .filter((l) => !l.workKind || l.workKind === "WORK_KIND_UNSPECIFIED")
        .map((l) => ({ unit: unitOf(String(l.unit ?? "")), lowCreditLimitMicros: 0n, negativeLimitMicros: BigInt(l.negativeLimitMicros ?? "0") }));
      const units = new Map<string, bigint>(planUnits.map((u) => [u.unit, u.negativeLimitMicros]));
      for (const o of merged) if (!o.workKind) units.set(o.unit, BigInt(o.negativeLimitMicros));
      // Every kind override as it now applies (a lowered unit limit may leave an earlier kind override above it).
      const kinds = merged.filter((o) => o.workKind).map((o) => ({ ...o, lowCreditLimitMicros: BigInt(o.lowCreditLimitMicros), negativeLimitMicros: BigInt(o.negativeLimitMicros) }));
      // Named at the request's row: the kind's own, else the unit's that was lowered below it.
      kindsWithinUnits(kinds, "limits", units, (row) => {
        const own = command.limits!.findIndex((l) => limitKey(l) === limitKey(row));
        return own >= 0 ? own : command.limits!.findIndex((l) => !l.workKind && l.unit === row.unit);
      });
      changes.limitOverrides = merged;
    }
    if (command.seats !== undefined) {
      if (!Number.isInteger(command.seats) || command.seats < 1) throw new InvalidArgumentError("seats", "must be at least 1");
      changes.seats = command.seats;
    }
    return changes;
  }
}
