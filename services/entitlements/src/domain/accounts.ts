import { createHash } from "node:crypto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
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
  limits?: { unit: string; lowCreditLimitMicros: bigint; negativeLimitMicros: bigint }[];
  actor: string;
  reason: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function validateId(field: string, value: string): string {
  if (!ID.test(value)) throw new InvalidArgumentError(field, "use 1–128 letters, digits, '_', '.', ':' or '-'");
  return value;
}

function hashOf(command: CreateAccountCommand): string {
  return createHash("sha256")
    .update(JSON.stringify(command, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))
    .digest("hex");
}

export class Accounts {
  constructor(private readonly store: EntitlementsStore) {}

  /** Creating the same account twice with the same request returns the original. */
  async create(command: CreateAccountCommand): Promise<Account> {
    validateId("account_id", command.accountId);
    if (!command.name.trim()) throw new InvalidArgumentError("name", "is required");
    if (!Number.isInteger(command.seats) || command.seats < 1) throw new InvalidArgumentError("seats", "must be at least 1");
    if (command.spendCapMicros < 0n) throw new InvalidArgumentError("spend_cap_micros", "must not be negative");
    command.adminEmails.forEach((email, index) => {
      if (!EMAIL.test(email)) throw new InvalidArgumentError(`admin_emails[${index}]`, `not an email address: ${email}`);
    });
    const requestHash = hashOf(command);
    const existing = await this.store.findAccount(command.accountId);
    if (existing) {
      if (existing.requestHash === requestHash) return existing;
      throw new AlreadyExistsError(`account ${command.accountId} already exists`, "ACCOUNT_EXISTS", { account_id: command.accountId });
    }
    const plan = await this.store.latestPlan(command.planId);
    if (!plan) throw new NotFoundError("plan", command.planId);
    return this.store.insertAccount({ ...command, planVersion: plan.version, requestHash });
  }

  async get(accountId: string): Promise<Account> {
    const account = await this.store.findAccount(accountId);
    if (!account) throw new NotFoundError("account", accountId);
    return account;
  }

  async update(command: UpdateAccountCommand): Promise<Account> {
    if (!command.actor) throw new InvalidArgumentError("actor", "is required");
    if (!command.reason) throw new InvalidArgumentError("reason", "is required");
    const account = await this.get(command.accountId);
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
      if (account.billingMode !== "byom_usd" && command.spendCapMicros > 0n) {
        throw new InvalidArgumentError("spend_cap_micros", "spend caps are for bring-your-own-model accounts");
      }
      changes.spendCapMicros = command.spendCapMicros.toString();
    }
    if (command.limits && command.limits.length > 0) {
      const overrides = new Map(account.limitOverrides.map((o) => [o.unit, o]));
      command.limits.forEach((limit, index) => {
        if (!["credits", "tool_runs", "usd"].includes(limit.unit)) throw new InvalidArgumentError(`limits[${index}].unit`, "is required");
        if (limit.negativeLimitMicros < 0n) throw new InvalidArgumentError(`limits[${index}].negative_limit_micros`, "is a distance below zero and must not be negative");
        if (limit.lowCreditLimitMicros < 0n) throw new InvalidArgumentError(`limits[${index}].low_credit_limit_micros`, "must not be negative");
        overrides.set(limit.unit, { unit: limit.unit, lowCreditLimitMicros: limit.lowCreditLimitMicros.toString(), negativeLimitMicros: limit.negativeLimitMicros.toString() });
      });
      changes.limitOverrides = [...overrides.values()];
    }
    if (command.seats !== undefined) {
      if (!Number.isInteger(command.seats) || command.seats < 1) throw new InvalidArgumentError("seats", "must be at least 1");
      changes.seats = command.seats;
    }
    return this.store.updateAccount(account, changes);
  }
}
