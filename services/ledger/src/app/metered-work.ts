import { log } from "@tollgate/telemetry";
import type { Bucket, RunContext } from "@tollgate/eligibility";
import { ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import type { Unit, Usage } from "@tollgate/rating";
import type { LedgerStore, WorkRow } from "../data/ledger-store.js";
import { decodeAnswer, encodeAnswer } from "../data/stored-answers.js";
import { usageFromJson, usageToJson } from "../data/usage-json.js";
import type { RateCache } from "../data/rate-cache.js";
import type { AccountView } from "../domain/account-view.js";
import type { WorkCall, WorkCallAnswer } from "../domain/commands.js";
import type { DenialReason } from "../domain/denial.js";
import { fingerprint } from "../domain/fingerprint.js";
import { shortfallMessage } from "../domain/use-cases/authorize.js";
import { DEPLOYED_KINDS, limitsFor, newWork } from "../domain/rules/kind-limits.js";
import { withWorkKind } from "../domain/usage.js";
import { checkKey } from "../domain/rules/idempotency.js";
import { meter } from "../domain/use-cases/meter.js";
import { resumeWork } from "../domain/use-cases/resume-work.js";
import { eligibilityOf, price, raise, type LedgerDeps } from "../domain/use-cases/run.js";
import { startWork } from "../domain/use-cases/start-work.js";

export type { DenialReason } from "../domain/denial.js";

/** The state machine's key check (rules/idempotency.ts), for the work calls that check it before looking the work up. */
function requireKey(key: string): void {
  const invalidKey = checkKey(key);
  if (invalidKey) raise(invalidKey);
}

const MAX_LABELS = 20;
/** Due runs and deployments read at once by a metering round (it reads page after page until none is left). */
const DUE_WORK_PAGE = 200;

/** How many times a state or replica change is metered again after a tick moved the work on meanwhile, before it gives up (ABORTED). */
export const MAX_STALE_ATTEMPTS = 5;

/** Labels describe work (a script's language, a model's type): a few short key/value pairs. */
function checkLabels(labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw new InvalidArgumentError("labels", `must have at most ${MAX_LABELS} entries, not ${entries.length}`);
  for (const [key, value] of entries) {
    if (!/^[a-z][a-z0-9_.-]{0,62}$/.test(key)) {
      throw new InvalidArgumentError("labels", `key "${key.slice(0, 64)}" must be 1–63 lower-case letters, digits, '_', '.' or '-', starting with a letter`);
    }
    if (value.length > 256) throw new InvalidArgumentError(`labels.${key}`, "must be at most 256 characters");
  }
}

/** What starting work looks like from its start: allowed or why not, with the figures. */
export interface StartOutcome {
  allowed: boolean;
  reason?: DenialReason;
  message?: string;
  metered: boolean;
  /** The unit the work is metered in (absent when the account was not consulted). */
  unit?: string;
  /** The answer was an idempotent replay. */
  replayed?: boolean;
  /** Denied at zero, and the kind allows drafts: save the work as a draft only. */
  draftsOnly?: boolean;
}

const DEFAULT_CONTEXT: RunContext = { runLocation: "cloud", inferenceSource: "managed", computeSource: "hosted" };
const isDefaultContext = (c: RunContext) =>
  c.runLocation === DEFAULT_CONTEXT.runLocation && c.inferenceSource === DEFAULT_CONTEXT.inferenceSource && c.computeSource === DEFAULT_CONTEXT.computeSource;


function requireAccount(accountId: string): void {
  if (!accountId) throw new InvalidArgumentError("account_id", "is required");
}

/**
 * A refused start in words: suspension and the plan's rules in the rule's
 * own words, a hard budget with its figures, the balance denials with every
 * figure of the balance (`shortfall`).
 */
function denialMessage(reason: DenialReason, ruleMessage: string | undefined, what: string, shortfall: () => string): string {
  switch (reason) {
    case "ACCOUNT_SUSPENDED":
      return ruleMessage ?? "the account is suspended";
    case "NOT_ELIGIBLE":
      return ruleMessage ?? "";
    case "BUDGET_EXCEEDED":
      return `${what} ${ruleMessage ?? "is over a hard budget"}`;
    default:
      return shortfall();
  }
}

/** A run or deployment: its id is unique within its account. */
export interface WorkRef {
  accountId: string;
  workId: string;
}

/** What a tick of a run or deployment is asked to do beyond charging its time (the call it carries out, if any). */
interface TickOptions {
  to?: Date;
  nextState?: string;
  replicas?: number;
  traceparent?: string;
  traceId?: string;
  call?: WorkCall;
  /** The principal of the call that makes this tick (and whom it acted for); unset: the ledger's own tick. */
  actor?: string;
  onBehalfOf?: string;
}

/**
 * Metered work (runs and deployments: start, ticks, pause, resume, end,
 * scale, undeploy): validates, prices and admits, then writes through the
 * state machine (use-cases/start-work.ts, meter.ts, resume-work.ts) like
 * every other write; reads the work and the balance from the ledger store.
 * Nothing here knows of gRPC.
 */
export class Ledger {
  private readonly accounts: LedgerDeps["accounts"];
  private readonly now: () => Date;

  constructor(
    private readonly store: LedgerStore,
    private readonly rates: RateCache,
    private readonly deps: LedgerDeps,
  ) {
    this.accounts = deps.accounts;
    this.now = deps.now;
  }

  private onTickFailed(accountId: string, workId: string, error: unknown): void {
    log().error({ account_id: accountId, work_id: workId, err: error }, "metering tick failed; retried on the next tick");
  }

  /** The rate table versions recorded holds and entries name (by pricing sequence), for showing their table and version. */
  publishedRateTables(sequences: Iterable<bigint>) {
    return this.rates.published(sequences);
  }

  /** `at` and `tableId`: the rates in effect then, in that table (metered work keeps the rates it started with). */
  private async price(account: AccountView, usage: Usage, field: string, at: Date = this.now(), tableId = account.rateTableId) {
    const priced = await price({ rates: this.rates, now: this.now }, account, usage, field, at, tableId);
    return { ...priced, unit: priced.unit as Unit, bucket: priced.bucket as Bucket };
  }

  /**
   * Starts an agent run where `context` says it runs: admitted and metered
   * exactly as Authorize would admit a request of the run's bucket; refused
   * when the account has nothing left, unless the run is unmetered.
   */
  async startRun(command: { accountId: string; runId: string; attribution: Record<string, string>; labels?: Record<string, string>; idempotencyKey: string; context?: RunContext; workKind?: string }) {
    return this.startWork("run", command.accountId, command.runId, { kind: "active_time", seconds: 0n }, 1, command.attribution, command.labels ?? {}, command.idempotencyKey, command.context ?? DEFAULT_CONTEXT, "", command.workKind ?? "");
  }

  /** Deploys hardware (GPU, CPU or a hardware profile) billed per replica-second; refused below the low-credit limit. */
  async deploy(command: { accountId: string; deploymentId: string; hardware: Usage; replicas: number; attribution: Record<string, string>; labels?: Record<string, string>; idempotencyKey: string; endpoint?: string; context?: RunContext; workKind?: string }) {
    if (!["gpu_time", "cpu_time", "hardware_profile_time"].includes(command.hardware.kind)) {
      throw new InvalidArgumentError("hardware", "must be gpu_time, cpu_time or hardware_profile_time");
    }
    if (!Number.isInteger(command.replicas) || command.replicas < 1) throw new InvalidArgumentError("replicas", "must be at least 1");
    if (command.workKind && !DEPLOYED_KINDS.includes(command.workKind)) {
      throw new InvalidArgumentError("work_kind", `a ${command.workKind} is not deployed: must be ${DEPLOYED_KINDS.join(", ")}, or unset`);
    }
    return this.startWork("deployment", command.accountId, command.deploymentId, command.hardware, command.replicas, command.attribution, command.labels ?? {}, command.idempotencyKey, command.context ?? DEFAULT_CONTEXT, command.endpoint ?? "", command.workKind ?? "");
  }

  private async startWork(kind: "run" | "deployment", accountId: string, workId: string, usage: Usage, replicas: number, callerAttribution: Record<string, string>, labels: Record<string, string>, idempotencyKey: string, context: RunContext, endpoint = "", workKind = ""): Promise<StartOutcome> {
    requireAccount(accountId);
    requireKey(idempotencyKey);
    checkLabels(labels);
    if (!workId) throw new InvalidArgumentError(kind === "run" ? "run_id" : "deployment_id", "is required");
    const account = await this.accounts.get(accountId);
    const price = await this.price(account, this.usageFor({ kind, usage, replicas }, 1n), kind === "run" ? "run" : "hardware");
    // Whether the plan's rules admit the work where it runs and meter it (self-hosted accounts and own-key inference
    // are unmetered). Decided here, denied by the state machine after it recalls the key, as Authorize's: a retry
    // of a start answers as the start did, even when the account was suspended since (rules/denial.ts).
    const eligibility = eligibilityOf(account, context, price.bucket);
    // Runs need something left; deployments need the low-credit limit (seed 001); a kind with its own limits needs
    // its low-credit limit; unmetered work needs nothing (the state machine decides, rules/kind-limits.ts). The
    // minimum here only words a denial.
    const limits = limitsFor(account.units.find((u) => u.unit === price.unit), account.kindLimits, price.unit, workKind);
    const minimum = newWork({ work: kind, limits, availableMicros: 0n }).minimumMicros;
    // Usage of a kind is attributed to it (usage by kind of work).
    const attribution = withWorkKind(callerAttribution, workKind);
    const result = await startWork(this.deps, account, {
      type: "startWork", kind, workId, accountId, unit: price.unit, usage: usageToJson(usage) as Record<string, unknown>, replicas, attribution, labels,
      context: { run_location: context.runLocation, inference_source: context.inferenceSource, compute_source: context.computeSource }, eligibility,
      idempotencyKey,
      requestHash: fingerprint({
        op: `start_${kind}`, accountId, workId, usage, replicas, attribution: callerAttribution, endpoint,
        ...(Object.keys(labels).length > 0 ? { labels } : {}), ...(isDefaultContext(context) ? {} : { context }), ...(workKind ? { workKind } : {}),
      }),
      endpoint,
      ...(workKind ? { workKind } : {}),
      rateTableId: price.tableId,
    });
    const replayed = result.replayed === true;
    // An answer recorded by an earlier release does not say whether the work is metered: the rules as they are now do.
    const metered = result.metered ?? (eligibility.allowed && eligibility.metered);
    if (result.allowed) return { allowed: true, metered, unit: price.unit, replayed, ...(metered ? {} : { message: result.message ?? eligibility.reason }) };
    const reason = result.reason!;
    const what = kind === "run" ? "starting the run" : "the deployment";
    const message = denialMessage(reason, result.message, what, () => shortfallMessage(account, reason, price.unit, minimum, result.availableMicros, what, workKind));
    // Drafts only: the kind's rule decided on the balance the state machine found.
    return { allowed: false, reason, message, metered: result.metered ?? reason !== "NOT_ELIGIBLE", unit: price.unit, replayed, ...(result.draftsOnly ? { draftsOnly: true } : {}) };
  }

  /** The usage of `seconds` of a run's active time or a deployment's replicas. */
  private usageFor(work: { kind: "run" | "deployment"; usage: Usage; replicas: number }, seconds: bigint): Usage {
    if (work.kind === "run") return { kind: "active_time", seconds };
    const u = work.usage;
    if (u.kind === "gpu_time") return { ...u, replicas: BigInt(work.replicas), seconds };
    if (u.kind === "cpu_time") return { ...u, cores: u.cores > 0n ? u.cores : 1n, seconds: seconds * BigInt(work.replicas) };
    if (u.kind === "hardware_profile_time") return { ...u, seconds: seconds * BigInt(work.replicas) };
    throw new InvalidArgumentError("hardware", "is not a time usage");
  }

  /**
   * Charges a run's or deployment's time up to `to` (whole seconds) and moves
   * it to `nextState`. A tick that lost a race does nothing; a state or
   * replica change that lost it is metered again, and after
   * MAX_STALE_ATTEMPTS is ABORTED (ConflictError), having changed nothing.
   *
   * Rounds once: the work's whole metered time so far (active seconds, or
   * replica-seconds) is priced at the rates in effect when it started, rounded,
   * and each tick charges the difference from what was priced before; so a
   * total never depends on how the time was split into ticks, pauses or scales.
   */
  async meter(ref: WorkRef, options: TickOptions = {}) {
    // A state or replica change (pause, end, scale, undeploy) is never lost to a metering tick that moved the
    // work on meanwhile (which leaves this call's interval stale): it is metered again from where the tick left it.
    const changes = options.nextState !== undefined || options.replicas !== undefined;
    for (let attempt = 1; ; attempt++) {
      const result = await this.meterOnce(ref, options);
      if (!result.stale || !changes) return result;
      // Still stale after as many tries: the change was not made, and must not be answered (nor its key recorded)
      // as if it had been. ABORTED writes nothing, so the caller's retry with the same key makes it.
      if (attempt >= MAX_STALE_ATTEMPTS) {
        throw new ConflictError(
          `${ref.workId} kept changing under this call (${attempt} attempts): nothing was changed, retry the call with the same idempotency key`,
          "WORK_CHANGED_CONCURRENTLY", { work_id: ref.workId },
        );
      }
    }
  }

  private async meterOnce({ accountId, workId }: WorkRef, options: TickOptions) {
    const work = await this.store.work(accountId, workId);
    if (!work) throw new NotFoundError("work", workId);
    const account = await this.accounts.get(work.account_id);
    const to = options.to ?? this.now();
    const seconds = BigInt(Math.max(0, Math.floor((to.getTime() - work.charged_until.getTime()) / 1000)));
    const tick = {
      accountId: work.account_id, workId, fromMs: work.charged_until.getTime(), toMs: work.charged_until.getTime() + Number(seconds) * 1000,
      nextState: options.nextState ?? null, replicas: options.replicas ?? null, traceparent: options.traceparent ?? "", traceId: options.traceId ?? "",
      ...(options.call ? { call: options.call } : {}),
      ...(options.actor ? { actor: options.actor } : {}),
      ...(options.onBehalfOf ? { onBehalfOf: options.onBehalfOf } : {}),
    };
    if (!work.metered) {
      // Unmetered from its start (self-hosted, or a bucket the plan does not meter where it runs): time recorded, nothing charged.
      return this.answer(await meter(this.deps, account, { ...tick, amountMicros: 0n, bucket: "", rateTableVersion: 0n }));
    }
    const usage = usageFromJson(work.usage);
    // Only running time is charged (a paused run's interval charges nothing).
    const added = work.state === "running" ? seconds * (work.kind === "run" ? 1n : BigInt(work.replicas)) : 0n;
    const pricedQuantity = BigInt(work.priced_quantity) + added;
    // Its own rate table: the account may have moved since to a plan whose table does not price this work at all.
    const price = await this.price(account, this.usageFor({ kind: work.kind, usage, replicas: 1 }, pricedQuantity), work.kind, work.created_at, work.rate_table_id ?? account.rateTableId);
    const pricedMicros = price.amountMicros > BigInt(work.priced_micros) ? price.amountMicros : BigInt(work.priced_micros);
    return this.answer(await meter(this.deps, account, {
      ...tick, amountMicros: pricedMicros - BigInt(work.priced_micros), unit: price.unit, bucket: price.bucket, rateTableVersion: price.sequence, pricedQuantity, pricedMicros,
    }));
  }

  /** A tick's answer as the handlers read it. */
  private answer(result: Awaited<ReturnType<typeof meter>>): { stale: boolean; state: string; charged_micros?: string; proceed?: boolean; work?: WorkCallAnswer } {
    if (result.stale) return { stale: true, state: result.state };
    return {
      stale: false, state: result.state, charged_micros: (result.charge?.chargedMicros ?? 0n).toString(), proceed: result.charge?.proceed ?? true,
      ...(result.work ? { work: result.work } : {}),
    };
  }

  /**
   * The run or deployment a call names. Its id is the caller's, unique only
   * within an account: the call names the account, or (callers from before
   * `account_id` was sent) the id must name work in one account only.
   */
  async find(kind: "run" | "deployment", workId: string, accountId: string): Promise<WorkRow> {
    const field = kind === "run" ? "run_id" : "deployment_id";
    if (!workId) throw new InvalidArgumentError(field, "is required");
    const found = accountId ? [await this.store.work(accountId, workId)].filter((w) => w !== undefined) : await this.store.workNamed(workId, 2);
    if (found.length > 1) throw new InvalidArgumentError("account_id", `is required: ${kind} '${workId}' exists in more than one account`);
    const work = found[0];
    if (!work) throw new NotFoundError(kind, workId);
    // A run's calls refuse a deployment's id, and a deployment's calls a run's.
    if (work.kind !== kind) throw new FailedPreconditionError(`${workId} is a ${work.kind}, not a ${kind}`, "WORK_KIND_MISMATCH", { [field]: workId });
    return work;
  }

  /**
   * Runs a call on a run or deployment once per idempotency key: a repeat
   * answers the recorded answer, the key with another request is refused.
   * `fn` carries the call out on the work it is given (as it stood before the
   * call, and the reference to it) with the `WorkCall` it is given, so the tick or resume it makes
   * records the key in the same transaction as the state change (a repeat
   * arriving meanwhile is answered from that record). A call that changes
   * nothing (ending work that already ended: `fn` answers undefined) answers
   * the work as it stands and records that afterwards; the insert does
   * nothing when the tick already recorded it.
   *
   * The request's `account_id` is left out of its fingerprint: the key is
   * recorded in the work's account anyway, and a retry of a call made before
   * callers sent it still finds its answer.
   */
  async once<T>(
    kind: "run" | "deployment", workId: string, operation: string, request: { accountId: string; idempotencyKey: string },
    fn: (call: WorkCall, work: WorkRow, ref: WorkRef) => Promise<WorkCallAnswer | undefined>, reply: (answer: WorkCallAnswer) => T,
  ): Promise<T> {
    const idempotencyKey = request.idempotencyKey;
    requireKey(idempotencyKey);
    const work = await this.find(kind, workId, request.accountId);
    const { accountId: _account, ...fields } = request;
    const requestHash = fingerprint({ op: operation, workId, request: fields });
    const recorded = await this.store.recall(work.account_id, idempotencyKey, requestHash);
    if (recorded !== undefined && recorded !== null) {
      // Earlier releases recorded the reply itself, as `{ result }`.
      if (typeof recorded === "object" && "result" in recorded) return (recorded as { result: T }).result;
      return reply(decodeAnswer(operation, recorded) as WorkCallAnswer);
    }
    const ref = { accountId: work.account_id, workId };
    const answer = (await fn({ idempotencyKey, requestHash, operation }, work, ref)) ?? (await this.workAnswer(ref));
    await this.store.remember(work.account_id, idempotencyKey, operation, requestHash, encodeAnswer(answer));
    return reply(answer);
  }

  /** A run or deployment as it stands, as a call on it answers when the call changed nothing. */
  private async workAnswer({ accountId, workId }: WorkRef): Promise<WorkCallAnswer> {
    const work = (await this.store.work(accountId, workId))!;
    return {
      state: work.state, chargedThisCallMicros: 0n, totalChargedMicros: BigInt(work.charged_micros), activeMs: Number(work.active_ms), replicas: work.replicas, proceed: true,
    };
  }

  async resume({ accountId, workId }: WorkRef, call?: WorkCall): Promise<{ state: string; work?: WorkCallAnswer }> {
    return resumeWork(this.deps, await this.accounts.get(accountId), { accountId, workId, ...(call ? { call } : {}) });
  }

  /**
   * Charges every running run and deployment whose last charge is older than
   * `ageMs`; returns how many were stopped. Ticks of different work run side
   * by side (at most `concurrency` at once), so the group commit puts many of
   * them in one transaction.
   */
  async meterDue(ageMs: number, concurrency = 32): Promise<number> {
    const chargedBefore = new Date(this.now().getTime() - ageMs);
    let stopped = 0;
    // Every piece of due work, a page at a time in the order of its last charge: work whose ticks keep failing
    // stays at the front of that order, and must not keep the work behind it from being charged.
    for (let after: WorkRow | undefined; ; ) {
      const due = await this.store.dueWork(chargedBefore, DUE_WORK_PAGE, after);
      let next = 0;
      const ticker = async () => {
        while (next < due.length) {
          const work = due[next++]!;
          // One piece of work that cannot be charged is logged and retried on the next round; it does not stop the others.
          try {
            if ((await this.meter({ accountId: work.account_id, workId: work.work_id })).state === "stopped") stopped++;
          } catch (error) {
            this.onTickFailed(work.account_id, work.work_id, error);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, ticker));
      if (due.length < DUE_WORK_PAGE) return stopped;
      after = due.at(-1);
    }
  }

  /** Pools, per-unit totals and the account's cycle (the caller opens the account's cycle first). */
  async balance(accountId: string) {
    requireAccount(accountId);
    const [account, pools, balances] = await Promise.all([this.store.account(accountId), this.store.pools(accountId), this.store.balances(accountId)]);
    if (!account) throw new NotFoundError("account", accountId);
    return { account, pools, balances };
  }
}
