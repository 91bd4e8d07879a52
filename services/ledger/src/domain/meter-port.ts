import type { RunContext } from "@tollgate/eligibility";
import type { Usage } from "@tollgate/rating";
import type { DenialReason } from "./denial.js";
import type { MeterHold } from "./meter-session.js";
import type { BudgetScope } from "./state.js";
import type { AuthorizeRequest } from "./use-cases/authorize.js";

/** A Meter stream's opening authorization is an Authorize like any other. */
export type MeterAuthorizeCall = AuthorizeRequest;

export interface MeterAuthorized {
  allowed: boolean;
  reason?: DenialReason;
  message?: string;
  /** Absent when the usage is unmetered. */
  holdId?: string;
  amountMicros: bigint;
  availableMicros: bigint;
  metered: boolean;
  expiresAt?: Date;
  /** As AuthorizeAnswer.draftsOnly. */
  draftsOnly?: boolean;
}

export interface MeterChargeCall {
  accountId: string;
  holdId?: string;
  usage: Usage;
  final: boolean;
  idempotencyKey: string;
  attribution: Record<string, string>;
  context: RunContext;
  /** Late usage: when it happened (as ChargeRequest.occurredAt); absent: now. */
  occurredAt?: Date;
  /** The stream's caller and for whom (as ChargeRequest.actor). */
  actor?: string;
  onBehalfOf?: string | undefined;
}

export interface MeterCharged {
  entryId: bigint;
  chargedMicros: bigint;
  uncollectedMicros: bigint;
  releasedMicros: bigint;
  balanceMicros: bigint;
  proceed: boolean;
  /** The hard budget that left nothing (proceed false because of it). */
  budgetId?: string;
  /** The idempotency key had been answered: this is the recorded answer. */
  replayed: boolean;
}

/**
 * Everything a Meter stream asks of the ledger's write path: the same
 * Authorize, Charge and Release the unary RPCs run (one group commit, one set
 * of rules), plus two reads. One adapter maps it onto the ledger.
 */
export interface MeterPort {
  authorize(call: MeterAuthorizeCall): Promise<MeterAuthorized>;
  charge(call: MeterChargeCall): Promise<MeterCharged>;
  release(call: { accountId: string; holdId: string; idempotencyKey: string }): Promise<{ releasedMicros: bigint }>;
  /** The hold as stored (undefined when there is none). */
  hold(holdId: string): Promise<MeterHold | undefined>;
  /** Whether a write under the account's idempotency key is recorded (a stream resuming its work asks of the sequence before). */
  recorded(accountId: string, idempotencyKey: string): Promise<boolean>;
  /** What a charge without a hold could still collect in the unit: live pools - held + negative limit. */
  room(accountId: string, unit: string): Promise<bigint>;
  /** The account's hard budgets used up now (rules/budgets.ts `usedUp`). */
  usedUpBudgets(accountId: string): Promise<{ budgetId: string; unit: string; scope: BudgetScope; scopeId: string }[]>;
}
