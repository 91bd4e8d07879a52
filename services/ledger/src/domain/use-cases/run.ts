import { decideEligibility, type RunContext } from "@tollgate/eligibility";
import { FailedPreconditionError, IdempotencyKeyReusedError, InvalidArgumentError, NotFoundError, type DomainError } from "@tollgate/errors";
import type { RateTable, Usage } from "@tollgate/rating";
import type { AccountDirectory, AccountView } from "../account-view.js";
import type { AnswerOf, Command, Eligibility, LedgerError, Result, RollOverCommand, SupportKeyed } from "../commands.js";
import { notFound } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import { cycleAt } from "../cycle.js";
import { priceAt } from "../pricing.js";
import { sequenceOf } from "../rules/running-total.js";
import { execute } from "../state-machine.js";
import type { AccountFacts, Trace } from "../state.js";
import type { LedgerStateStore, RateTables } from "../store.js";
import type { OpenCycles } from "./open-cycle.js";

/** What every use case runs on: ports the domain declares, and the time. */
export interface LedgerDeps {
  store: LedgerStateStore;
  accounts: AccountDirectory;
  rates: RateTables;
  now: () => Date;
  /** How long idempotency keys are kept (IDEMPOTENCY_RETENTION_HOURS): late usage may be no older. Unset: the least kept, 24 hours. */
  idempotencyRetentionMs?: number;
  /** Cycles known open: a call in one leaves out its rollOver command. Unset: every call rolls over first. */
  cycles?: OpenCycles;
  /** The current call's trace, recorded on what the rules write by themselves (allotments, lapses, expiries). Unset: none. */
  trace?: () => Trace;
}

/** What every support write names beside its own fields: whose account, why, who, for whom, and its key. */
export interface SupportRequest {
  accountId: string;
  reason: string;
  actor: string;
  /** The person the actor acted for (recorded with the change; not part of the request's fingerprint). */
  onBehalfOf?: string | undefined;
  /** The call's traceparent, for the events the change causes (not part of the request's fingerprint). */
  traceparent?: string | undefined;
  idempotencyKey: string;
}

/** What a support command carries outside its request's fingerprint: for whom, and the trace its events continue. */
export function supportContext(request: SupportRequest): Pick<SupportKeyed, "onBehalfOf" | "traceparent"> {
  return { ...(request.onBehalfOf ? { onBehalfOf: request.onBehalfOf } : {}), ...(request.traceparent ? { traceparent: request.traceparent } : {}) };
}

/** A support request without what is kept outside its fingerprint (`supportContext`): what `op`'s request hash covers. */
export function supportFingerprint<R extends SupportRequest>(op: string, request: R): { hashed: Omit<R, "onBehalfOf" | "traceparent">; requestHash: string } {
  const { onBehalfOf: _onBehalfOf, traceparent: _traceparent, ...hashed } = request;
  return { hashed, requestHash: fingerprint({ op, ...hashed }) };
}

/** A support request as its command's fields: the request, its context, and its fingerprint. */
export function supportCommand<R extends SupportRequest>(op: string, request: R) {
  const { hashed, requestHash } = supportFingerprint(op, request);
  return { ...hashed, ...supportContext(request), requestHash };
}

/** Idempotency keys are kept at least this long. */
export const MIN_IDEMPOTENCY_RETENTION_MS = 24 * 3_600_000;

export function requireAccountId(accountId: string): void {
  if (!accountId) throw new InvalidArgumentError("account_id", "is required");
}

export function factsOf(view: AccountView): AccountFacts {
  return { suspended: view.status === "suspended", drawdownOrder: view.drawdownOrder, thresholdPercents: view.thresholdPercents, ...(view.kindLimits?.length ? { kindLimits: view.kindLimits } : {}) };
}

/** Whether the account's plan names a unit (one it does not gets a balance on first use: `cycleCommand`). */
const namesUnit = (view: AccountView, unit: string): boolean => view.units.some((u) => u.unit === unit);

/**
 * The account's current cycle as the plan says it should be (opened or rolled
 * over lazily before every command). `unit`: the unit the command is in; one
 * the plan does not name gets a balance on first use, with no allotment and
 * its limits at zero.
 */
export function cycleCommand(view: AccountView, now: Date, unit: string | null = null): RollOverCommand {
  const cycle = cycleAt(view.cycleAnchor, now);
  const units = view.units.map((u) => ({ unit: u.unit as string, allotmentMicros: u.allotmentMicros, negativeLimitMicros: u.negativeLimitMicros, lowCreditLimitMicros: u.lowCreditLimitMicros, kind: u.kind ?? ("monthly" as const) }));
  if (unit !== null && !namesUnit(view, unit)) units.push({ unit, allotmentMicros: 0n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "monthly" });
  return {
    type: "rollOver", accountId: view.accountId, planId: view.planId, planVersion: view.planVersion, cycleStartMs: cycle.start.getTime(), cycleEndMs: cycle.end.getTime(),
    units,
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
      thrown = new FailedPreconditionError(error.message, error.reason, error.field ? { field: error.field } : {});
      break;
  }
  throw thrown;
}

/**
 * Runs one command against the account's current cycle: the cycle is opened
 * or rolled over first, in the same transaction (not for sweeps, and not when
 * it is known open), then the command decided; its answer is returned or its
 * refusal thrown.
 */
export async function run<C extends Command>(deps: LedgerDeps, view: AccountView, command: C): Promise<AnswerOf[C["type"]] & Replayed> {
  const result = await decideOne(deps, view, command);
  if (!result.ok) raise(result.error);
  return result.value;
}

/** {@link run}, answering a refusal instead of throwing it. */
async function decideOne<C extends Command>(deps: LedgerDeps, view: AccountView, command: C): Promise<Result<AnswerOf[C["type"]] & Replayed>> {
  const now = deps.now();
  // Sweeps do not open cycles; everything else runs in the account's current cycle: a metering tick too, since an
  // account whose only use is running work (a deployment) sends nothing else that would open the next one.
  const alone = command.type === "rollOver" || command.type === "expireHolds" || command.type === "expirePools";
  // An unpriced call has no unit ("").
  const unit = ("unit" in command ? command.unit : null) || null;
  const cycleKey = alone ? undefined : deps.cycles?.key(view, now, unit);
  const opening = alone || (cycleKey !== undefined && deps.cycles!.isOpen(cycleKey)) ? null : cycleCommand(view, now, unit);
  const commands: Command[] = opening ? [opening, command] : [command];
  let opened = false;
  // Read here: a batch of concurrent calls may be decided in another call's context.
  const trace = deps.trace?.();
  const result = await deps.store.transact(commands, (state, ids) => {
    const account = state.get(view.accountId);
    if (account) account.facts = factsOf(view);
    // Decided at the time it is decided, under the batch's locks: the calls of one batch share (almost) one instant.
    const ctx = { nowMs: deps.now().getTime(), ids, ...(trace ? { trace } : {}) };
    const batch = execute(state, commands, ctx);
    const result = batch.outcomes[commands.length - 1]!.result;
    opened = opening !== null && batch.outcomes[0]!.result.ok;
    // A refused call writes nothing of its own: the cycle is still opened, but not a balance in a unit the plan does not
    // name, which only a call that succeeds in it opens (decided again without it; not remembered as open).
    if (!result.ok && opening && unit !== null && !namesUnit(view, unit)) {
      opened = false;
      return { value: result, writes: execute(state, [{ ...opening, units: opening.units.filter((u) => u.unit !== unit) }], ctx).writes };
    }
    return { value: result, writes: batch.writes };
  });
  if (opened && cycleKey !== undefined) deps.cycles!.remember(cycleKey);
  if (!result.ok) return result;
  const value = result.value as AnswerOf[C["type"]];
  return { ok: true, value: result.replayed ? { ...value, replayed: true } : value, replayed: result.replayed };
}

/**
 * Runs a command priced at the rate table in effect when its usage happened
 * (`at`, default now), or, on a hold authorized at another version
 * (`RATE_TABLE_PINNED`), priced again at that one: the rate version is
 * pinned for the whole hold. Answers with the table it was priced at.
 */
export async function runPinned<C extends Command>(deps: LedgerDeps, view: AccountView, build: (table: RateTable) => C, at: Date = deps.now()): Promise<{ answer: AnswerOf[C["type"]] & Replayed; table: RateTable }> {
  let table = await rateTableInEffect(deps, view, at);
  for (let attempt = 1; ; attempt++) {
    const result = await decideOne(deps, view, build(table));
    if (result.ok) return { answer: result.value, table };
    const pinned = result.error.pinnedRateTable;
    if (pinned === undefined || attempt > 1) raise(result.error);
    const found = (await deps.rates.published([pinned])).get(pinned);
    if (!found) throw new FailedPreconditionError(`the rate table version the hold was authorized at (sequence ${pinned}) is not published`, "RATE_TABLE_NOT_FOUND", { rate_table_sequence: String(pinned) });
    table = found;
  }
}

/** Set on an answer that is the recorded answer of an earlier call with the same key. */
export interface Replayed {
  replayed?: true;
}

export interface Price {
  unit: string;
  bucket: string;
  amountMicros: bigint;
  tableId: string;
  version: bigint;
  /** Pricing's sequence of the table version: what holds and entries record (reads show the table and version it names). */
  sequence: bigint;
}

/** Prices usage from the rate table in effect (`at`, default now); a BYOM account's replies are priced at their provider cost. */
export async function price(deps: Pick<LedgerDeps, "rates" | "now">, view: AccountView, usage: Usage, field: string, at: Date = deps.now(), tableId = view.rateTableId): Promise<Price> {
  return priceWith(await rateTableInEffect(deps, view, at, tableId), view, usage, field);
}

/** Prices usage at one rate table version (a BYOM account's replies at their provider cost). */
export function priceWith(table: RateTable, view: AccountView, usage: Usage, field: string): Price {
  const priced = priceAt(table, usage, field, view.billingMode === "byom_usd");
  return { ...priced, tableId: table.tableId, version: table.version, sequence: sequenceOf(table) };
}

/**
 * A pricing refusal as what a call on a hold carries when it does not price
 * at the version in effect (commands.ts `MayBeUnpriced`): a rate that version
 * lacks (NOT_FOUND), which the hold's own version may have. Anything else is
 * thrown as it was.
 */
export function unpricedBy(error: unknown): LedgerError {
  if (error instanceof NotFoundError) return notFound(error.what, error.id);
  throw error;
}

/** The version that prices usage at `at` (default now; RateTables.inEffect) of the account's rate table, or of `tableId` (what metered work started with). */
export async function rateTableInEffect(deps: Pick<LedgerDeps, "rates" | "now">, view: AccountView, at: Date = deps.now(), tableId = view.rateTableId): Promise<RateTable> {
  return deps.rates.inEffect(tableId, at, deps.now()).catch((error: unknown) => {
    // The request is fine; the account's plan (or the table the work started with) names a rate table pricing does not have.
    if (error instanceof NotFoundError) {
      const whose = tableId === view.rateTableId ? `the plan of ${view.accountId} names` : `work of ${view.accountId} was priced with`;
      throw new FailedPreconditionError(`${whose} rate table ${tableId}, which has no version in effect`, "RATE_TABLE_NOT_FOUND", { rate_table_id: tableId });
    }
    throw error;
  });
}

/**
 * Whether a charge of usage in this bucket costs what it prices at: when the
 * plan's rules meter the bucket where the work ran. Work they do not allow
 * there (Authorize would have denied it NOT_ELIGIBLE) is charged in full,
 * as metered work: naming another context never makes work free.
 */
export function chargedInFull(view: AccountView, context: RunContext, bucket: string): boolean {
  const eligibility = eligibilityOf(view, context, bucket);
  return eligibility.metered || !eligibility.allowed;
}

/** The plan's eligibility rules for where the work runs, and whether this bucket is metered there. */
export function eligibilityOf(view: AccountView, context: RunContext, bucket: string): Eligibility {
  const decision = decideEligibility(view.eligibility, view, context);
  return { allowed: decision.allowed, metered: decision.allowed && decision.metered && decision.buckets.some((b) => b === bucket), reason: decision.reason };
}
