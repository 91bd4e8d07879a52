import { decideEligibility, type RunContext } from "@tollgate/eligibility";
import { FailedPreconditionError, IdempotencyKeyReusedError, InvalidArgumentError, NotFoundError, type DomainError } from "@tollgate/errors";
import { quoteProviderCost, quoteUsage, totalMicros, type Usage } from "@tollgate/rating";
import type { AccountDirectory, AccountView } from "../account-view.js";
import type { AnswerOf, Command, Eligibility, LedgerError, RollOverCommand } from "../commands.js";
import { cycleAt } from "../cycle.js";
import { execute } from "../state-machine.js";
import type { AccountFacts } from "../state.js";
import type { LedgerStateStore, RateTables } from "../store.js";

/** What every use case runs on: ports the domain declares, and the time. */
export interface LedgerDeps {
  store: LedgerStateStore;
  accounts: AccountDirectory;
  rates: RateTables;
  now: () => Date;
}

export function requireAccountId(accountId: string): void {
  if (!accountId) throw new InvalidArgumentError("account_id", "is required");
}

export function factsOf(view: AccountView): AccountFacts {
  return { suspended: view.status === "suspended", drawdownOrder: view.drawdownOrder, thresholdPercents: view.thresholdPercents };
}

/** The account's current cycle as the plan says it should be (opened or rolled over lazily before every command). */
export function cycleCommand(view: AccountView, now: Date): RollOverCommand {
  const cycle = cycleAt(view.cycleAnchor, now);
  return {
    type: "rollOver", accountId: view.accountId, planId: view.planId, planVersion: view.planVersion, cycleStartMs: cycle.start.getTime(), cycleEndMs: cycle.end.getTime(),
    units: view.units.map((u) => ({ unit: u.unit, allotmentMicros: u.allotmentMicros, negativeLimitMicros: u.negativeLimitMicros, lowCreditLimitMicros: u.lowCreditLimitMicros, kind: u.kind ?? "monthly" })),
    signupGrants: view.signupGrants.map((g) => ({ unit: g.unit, amountMicros: g.amountMicros, expiresAtMs: g.expiresAt.getTime() })),
  };
}

/** The domain's refusal as a domain error (one mapper at the edge turns it into a status). */
export function raise(error: LedgerError): never {
  let thrown: DomainError;
  switch (error.code) {
    case "INVALID_ARGUMENT":
      thrown = new InvalidArgumentError(error.field ?? "request", error.message.replace(/^[^:]*: /, ""));
      break;
    case "NOT_FOUND":
      thrown = new NotFoundError(error.missing?.what ?? "resource", error.missing?.id ?? "");
      break;
    case "ALREADY_EXISTS":
      thrown = new IdempotencyKeyReusedError(error.key ?? "");
      break;
    case "FAILED_PRECONDITION":
      thrown = new FailedPreconditionError(error.message, error.reason);
      break;
  }
  throw thrown;
}

/**
 * Runs one command against the account's current cycle: the cycle is opened
 * or rolled over first, in the same transaction (not for sweeps), then the
 * command decided; its answer is returned or its refusal thrown.
 */
export async function run<C extends Command>(deps: LedgerDeps, view: AccountView, command: C): Promise<AnswerOf[C["type"]]> {
  const now = deps.now();
  // Sweeps do not open cycles; everything else runs in the account's current cycle.
  const alone = command.type === "rollOver" || command.type === "expireHolds" || command.type === "expirePools";
  const commands: Command[] = alone ? [command] : [cycleCommand(view, now), command];
  const result = await deps.store.transact(commands, (state, ids) => {
    for (const account of state.values()) account.facts = factsOf(view);
    const batch = execute(state, commands, { nowMs: now.getTime(), ids });
    return { value: batch.outcomes[commands.length - 1]!.result, writes: batch.writes };
  });
  if (!result.ok) raise(result.error);
  return result.value as AnswerOf[C["type"]];
}

export interface Price {
  unit: string;
  bucket: string;
  amountMicros: bigint;
  version: bigint;
}

/** Prices usage from the rate table in effect; a BYOM account's replies are priced at their provider cost. */
export async function price(deps: LedgerDeps, view: AccountView, usage: Usage, field: string): Promise<Price> {
  const table = await deps.rates.inEffect(view.rateTableId, deps.now());
  const lines = (view.billingMode === "byom_usd" ? quoteProviderCost(table, usage, field) : undefined) ?? quoteUsage(table, usage, field);
  if (new Set(lines.map((line) => line.unit)).size > 1) throw new InvalidArgumentError(field, "prices in more than one unit; send one usage per unit");
  return { unit: lines[0]?.unit ?? "credits", bucket: lines[0]?.bucket ?? "ai", amountMicros: totalMicros(lines), version: table.version };
}

/** The plan's eligibility rules for where the work runs, and whether this bucket is metered there. */
export function eligibilityOf(view: AccountView, context: RunContext, bucket: string): Eligibility {
  const decision = decideEligibility(view.eligibility, view, context);
  return { allowed: decision.allowed, metered: decision.allowed && decision.metered && decision.buckets.some((b) => b === bucket), reason: decision.reason };
}
