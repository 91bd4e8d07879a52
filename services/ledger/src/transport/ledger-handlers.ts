import type { LogFollower } from "@tollgate/db";
import { runContextFromProto, workKindFromProto } from "@tollgate/eligibility";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { actorOf, cursorToken, encodedSize, newestFirstPage, numbersToken, page, pageOffset, pageScope, pageSize, requireKnownWhenEmpty, scopedToken, serverStream, tokenCursor, tokenNumbers, tokenPosition, unary, type CallContext, type HandlerOptions } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1 } from "@tollgate/proto";
import { int64, usageFromProto } from "@tollgate/rating";
import { currentTraceId, currentTraceparent } from "@tollgate/telemetry";
import type { Entry } from "../data/entities.js";
import type { LedgerStore, OutboxRow } from "../data/ledger-store.js";
import { usageUnit } from "../domain/account-view.js";
import { saturated, totalsOf } from "../domain/balance.js";
import { cycleMetrics } from "../domain/cycle.js";
import type { DenialReason } from "../domain/denial.js";
import type { Ledger, StartOutcome } from "../app/metered-work.js";
import { adjust } from "../domain/use-cases/adjust.js";
import { authorize } from "../domain/use-cases/authorize.js";
import { charge } from "../domain/use-cases/charge.js";
import { grant } from "../domain/use-cases/grant.js";
import { extendHold } from "../domain/use-cases/extend-hold.js";
import { release } from "../domain/use-cases/release.js";
import { reverse } from "../domain/use-cases/reverse.js";
import { deleteBudget } from "../domain/use-cases/delete-budget.js";
import { setBudget } from "../domain/use-cases/set-budget.js";
import type { CycleOpener } from "../domain/use-cases/open-cycle.js";
import { rollOver } from "../domain/use-cases/roll-over.js";
import type { LedgerDeps } from "../domain/use-cases/run.js";
import { WORK_STATES } from "../domain/state.js";
import { statusIcon } from "../domain/status-icon.js";
import type { DecisionTelemetry } from "./decision-telemetry.js";
import { shareBasisPoints, usageDimension, usageWindow, type UsageWindow } from "../domain/usage.js";
import {
  attributionFromProto,
  budgetModeFromProto,
  budgetScopeFromProto,
  budgetToProto,
  entryToProto,
  eventToProto,
  holdStatusToProto,
  holdToProto,
  poolKindFromProto,
  poolToProto,
  statusIconToProto,
  workToProto,
  unitFromProto,
  unitOf,
  poolFigures,
} from "./codec.js";

const L = ledgerV1;


const traceOf = () => ({ traceparent: currentTraceparent(), traceId: currentTraceId() });

/** The principal of a call on a run or deployment (and whom it acted for), recorded on the entry its tick writes; none with authentication off. */
const callerOf = (context: CallContext) => {
  const { actor, onBehalfOf } = actorOf(context, "");
  return { ...(actor ? { actor } : {}), ...(onBehalfOf ? { onBehalfOf } : {}) };
};

export const denialToProto = (reason: DenialReason | null | undefined) => (reason ? L.denialReasonFromJSON(`DENIAL_REASON_${reason}`) : L.DenialReason.DENIAL_REASON_UNSPECIFIED);

/** StartRun's and Deploy's answer. */
const startToProto = (outcome: StartOutcome) => ({ allowed: outcome.allowed, reason: denialToProto(outcome.reason), message: outcome.message ?? "", metered: outcome.metered, draftsOnly: outcome.draftsOnly === true });

/**
 * Whether a grant asks for auto reload: `reload_to_micros` is what turns it
 * on, so a reload threshold or cooldown without it is refused rather than
 * dropped (the pool would never reload).
 */
function reloadRequested(request: ledgerV1.GrantRequest): boolean {
  if (int64(request.reloadToMicros, "reload_to_micros") > 0n) return true;
  for (const [field, value] of [["reload_below_micros", request.reloadBelowMicros], ["reload_cooldown_ms", request.reloadCooldownMs]] as const) {
    if (int64(value, field) !== 0n) throw new InvalidArgumentError(field, "needs reload_to_micros, the balance auto reload tops the pool up to");
  }
  return false;
}

export function ledgerHandlers(
  deps: LedgerDeps,
  cycles: CycleOpener,
  ledger: Ledger,
  store: LedgerStore,
  events: LogFollower<OutboxRow>,
  options: HandlerOptions,
  decisions: DecisionTelemetry,
): Partial<ledgerV1.LedgerServiceServer> {
  /** The unit a usage read sums: the one asked for, else the account's own (a missing account is NOT_FOUND). */
  const unitOfUsage = async (accountId: string, unit: commonV1.Unit) =>
    unit === commonV1.Unit.UNIT_UNSPECIFIED ? usageUnit(await deps.accounts.get(accountId)) : unitFromProto(unit, "unit");
  const requireAccount = (accountId: string) => deps.accounts.get(accountId);

  return {
    authorize: unary(async (request: ledgerV1.AuthorizeRequest) => {
      const outcome = await authorize(deps, {
        accountId: request.accountId,
        estimate: usageFromProto(request.estimate, "estimate"),
        attribution: attributionFromProto(request.attribution),
        idempotencyKey: request.idempotencyKey,
        ttlMs: Number(int64(request.ttlMs, "ttl_ms")),
        context: runContextFromProto(request.context),
        workKind: workKindFromProto(request.workKind),
        ...traceOf(),
      });
      decisions.authorized(request.accountId, outcome);
      return {
        allowed: outcome.allowed,
        reason: denialToProto(outcome.reason),
        holdId: outcome.holdId ?? "",
        amountMicros: outcome.amountMicros.toString(),
        availableMicros: outcome.availableMicros.toString(),
        metered: outcome.metered,
        rateTableVersion: outcome.rateTableVersion.toString(),
        rateTableId: outcome.rateTableId,
        expiresAt: outcome.expiresAtMs === null ? undefined : new Date(outcome.expiresAtMs),
        message: outcome.message,
        draftsOnly: outcome.draftsOnly === true,
      };
    }, options),

    charge: unary(async (request: ledgerV1.ChargeRequest, context) => {
      const outcome = await charge(deps, {
        ...actorOf(context, ""),
        accountId: request.accountId,
        holdId: request.holdId || null,
        usage: usageFromProto(request.usage, "usage"),
        final: request.final,
        idempotencyKey: request.idempotencyKey,
        attribution: attributionFromProto(request.attribution),
        context: runContextFromProto(request.context),
        ...traceOf(),
        ...(request.occurredAt ? { occurredAt: request.occurredAt } : {}),
        workKind: workKindFromProto(request.workKind),
      });
      if (outcome.entryId > 0n) events.notify();
      await decisions.charged(request.accountId, request.holdId, outcome);
      return {
        chargedMicros: outcome.chargedMicros.toString(),
        uncollectedMicros: outcome.uncollectedMicros.toString(),
        balanceMicros: outcome.balanceMicros.toString(),
        proceed: outcome.proceed,
        releasedMicros: outcome.releasedMicros.toString(),
        entryId: outcome.entryId.toString(),
        budgetId: outcome.budgetId ?? "",
      };
    }, options),

    setBudget: unary(async (request: ledgerV1.SetBudgetRequest, context) => {
      const budget = await setBudget(deps, {
        accountId: request.accountId,
        unit: unitFromProto(request.unit, "unit"),
        scope: budgetScopeFromProto(request.scope),
        scopeId: request.scopeId,
        limitMicros: int64(request.limitMicros, "limit_micros"),
        mode: budgetModeFromProto(request.mode),
        perCycle: request.perCycle,
        thresholdPercents: request.thresholdPercents,
        reason: request.reason,
        ...actorOf(context, request.actor),
        idempotencyKey: request.idempotencyKey,
        traceparent: currentTraceparent(),
      });
      return { budget: budgetToProto(budget) };
    }, options),

    deleteBudget: unary(async (request: ledgerV1.DeleteBudgetRequest, context) => {
      const budget = await deleteBudget(deps, {
        accountId: request.accountId,
        budgetId: request.budgetId,
        reason: request.reason,
        ...actorOf(context, request.actor),
        idempotencyKey: request.idempotencyKey,
        traceparent: currentTraceparent(),
      });
      return { budget: budgetToProto(budget) };
    }, options),

    release: unary(async (request: ledgerV1.ReleaseRequest) => {
      const outcome = await release(deps, { accountId: request.accountId, holdId: request.holdId, idempotencyKey: request.idempotencyKey });
      return { releasedMicros: outcome.releasedMicros.toString(), status: holdStatusToProto(outcome.status) };
    }, options),

    extendHold: unary(async (request: ledgerV1.ExtendHoldRequest) => {
      const outcome = await extendHold(deps, {
        accountId: request.accountId,
        holdId: request.holdId,
        estimate: request.estimate ? usageFromProto(request.estimate, "estimate") : null,
        ttlMs: Number(int64(request.ttlMs, "ttl_ms")),
        idempotencyKey: request.idempotencyKey,
      });
      return {
        allowed: outcome.allowed,
        reason: denialToProto(outcome.reason),
        message: outcome.message,
        amountMicros: outcome.amountMicros.toString(),
        expiresAt: new Date(outcome.expiresAtMs),
        availableMicros: outcome.availableMicros.toString(),
      };
    }, options),

    reverseCharge: unary(async (request: ledgerV1.ReverseChargeRequest, context) => {
      const outcome = await reverse(deps, {
        accountId: request.accountId,
        entryId: int64(request.entryId, "entry_id"),
        reason: request.reason,
        ...actorOf(context, request.actor),
        idempotencyKey: request.idempotencyKey,
        ...traceOf(),
      });
      if (outcome.entryId > 0n) events.notify();
      return { entryId: outcome.entryId.toString(), returnedMicros: outcome.returnedMicros.toString(), balanceMicros: outcome.balanceMicros.toString() };
    }, options),

    grant: unary(async (request: ledgerV1.GrantRequest, context) => {
      const outcome = await grant(deps, {
        accountId: request.accountId,
        poolKind: poolKindFromProto(request.poolKind),
        unit: unitFromProto(request.unit, "unit"),
        amountMicros: int64(request.amountMicros, "amount_micros"),
        ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
        priority: request.priority,
        reason: request.reason,
        ...actorOf(context, request.actor),
        idempotencyKey: request.idempotencyKey,
        ...traceOf(),
        ...(reloadRequested(request)
          ? {
              reload: {
                belowMicros: int64(request.reloadBelowMicros, "reload_below_micros"),
                toMicros: int64(request.reloadToMicros, "reload_to_micros"),
                cooldownMs: Number(int64(request.reloadCooldownMs, "reload_cooldown_ms")),
              },
            }
          : {}),
      });
      return { poolId: outcome.poolId, entryId: outcome.entryId.toString(), balanceMicros: outcome.balanceMicros.toString() };
    }, options),

    getBalance: unary(async (request: ledgerV1.GetBalanceRequest) => {
      // The account's current cycle is opened (or rolled into) before it is shown.
      await cycles.open(request.accountId);
      const { account, pools, balances } = await ledger.balance(request.accountId);
      const now = deps.now(); // the ledger's clock, the one its commands are decided at
      const units = await Promise.all(
        balances.map(async (balance) => {
          const totals = totalsOf(pools.filter((p) => p.unit === balance.unit).map(poolFigures), BigInt(balance.heldMicros), now.getTime());
          const usage = await store.usedSince(account.accountId, balance.unit, account.cycleStart);
          return {
            unit: unitOf(balance.unit),
            balanceMicros: totals.balanceMicros.toString(),
            heldMicros: totals.heldMicros.toString(),
            availableMicros: totals.availableMicros.toString(),
            // What live pools were given adds up without the balance's bound (grants drawn down and granted again).
            grantedMicros: saturated(totals.grantedMicros).toString(),
            usedMicros: usage.usedMicros.toString(),
            statusIcon: statusIconToProto(statusIcon(totals.availableMicros, totals.grantedMicros)),
            usage,
          };
        }),
      );
      const credits = units.find((u) => u.unit === unitOf("credits")) ?? units[0];
      const metrics = cycleMetrics({ start: account.cycleStart, end: account.cycleEnd }, now, {
        usedMicros: BigInt(credits?.usedMicros ?? 0),
        availableMicros: BigInt(credits?.availableMicros ?? 0),
        usageEvents: credits?.usage.events ?? 0,
        firstUsageAt: credits?.usage.firstAt,
      });
      const budgets = await store.budgets(account.accountId, now);
      return {
        accountId: account.accountId,
        budgets: budgets.map(budgetToProto),
        pools: pools.map(poolToProto),
        units: units.map(({ usage: _usage, ...unit }) => unit),
        cycle: {
          cycleStart: account.cycleStart,
          cycleEnd: account.cycleEnd,
          daysElapsed: metrics.daysElapsed,
          daysLeft: metrics.daysLeft,
          averagePerDayMicros: metrics.averagePerDayMicros.toString(),
          projectedDaysToEmpty: metrics.projectedDaysToEmpty,
          willRunOutBeforeCycleEnd: metrics.willRunOutBeforeCycleEnd,
          usageEvents: credits?.usage.events ?? 0,
          firstUsageAt: credits?.usage.firstAt,
          runOutAt: metrics.runOutAt,
        },
      };
    }, options),

    adjust: unary(async (request: ledgerV1.AdjustRequest, context) => {
      const outcome = await adjust(deps, {
        accountId: request.accountId,
        poolId: request.poolId,
        amountMicros: int64(request.amountMicros, "amount_micros"),
        reason: request.reason,
        ...actorOf(context, request.actor),
        idempotencyKey: request.idempotencyKey,
        ...traceOf(),
      });
      return { entryId: outcome.entryId.toString(), balanceMicros: outcome.balanceMicros.toString(), reloadStopped: outcome.reloadStopped === true };
    }, options),

    getUsage: unary(async (request: ledgerV1.GetUsageRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      const name = L.usageWindowToJSON(request.window).slice("USAGE_WINDOW_".length).toLowerCase();
      if (!["day_hourly", "week_daily", "month_weekly"].includes(name)) throw new InvalidArgumentError("window", "is required");
      const { since, bucket } = usageWindow(name as UsageWindow, new Date());
      const unit = await unitOfUsage(request.accountId, request.unit);
      const rows = await store.usage(request.accountId, unit, request.splitBy ? usageDimension(request.splitBy, "split_by") : null, since, bucket);
      return { points: rows.map((row) => ({ start: row.start, key: row.key, amountMicros: row.amount, requests: row.requests })) };
    }, options),

    getTopUsage: unary(async (request: ledgerV1.GetTopUsageRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      const dimension = usageDimension(request.dimension, "dimension");
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("GetTopUsage", request);
      const position = tokenPosition(scope, request.page?.pageToken);
      // Every page ranks the usage the first page ranked: as written by its moment, since its cycle's start (without a
      // `since`), so a row that moves up or down meanwhile is neither shown twice nor skipped.
      const [offset, asOfMs, sinceMs] = (position
        ? tokenNumbers(position, 3)
        : [0, Date.now(), (request.since ?? (await store.account(request.accountId))?.cycleStart ?? new Date(0)).getTime()]) as [number, number, number];
      const { rows, total } = await store.topUsage(request.accountId, await unitOfUsage(request.accountId, request.unit), dimension, new Date(sinceMs), new Date(asOfMs), offset, limit + 1);
      const { items, nextPageToken } = page(rows, limit, (_, count) => numbersToken([offset + count, asOfMs, sinceMs]));
      return {
        // Shares of the exact sums; the figures saturated at int64 as every usage report answers them.
        rows: items.map((row) => ({ key: row.key, amountMicros: saturated(BigInt(row.amount)).toString(), requests: row.requests, shareBasisPoints: shareBasisPoints(BigInt(row.amount), total) })),
        totalMicros: saturated(total).toString(),
        nextPageToken: scopedToken(scope, nextPageToken),
      };
    }, options),

    startRun: unary(async (request: ledgerV1.StartRunRequest) => {
      const outcome = await ledger.startRun({
        accountId: request.accountId, runId: request.runId, attribution: attributionFromProto(request.attribution), labels: request.labels,
        idempotencyKey: request.idempotencyKey, context: runContextFromProto(request.context), workKind: workKindFromProto(request.workKind),
      });
      decisions.started(request.accountId, "start_run", outcome);
      return startToProto(outcome);
    }, options),

    pauseRun: unary(async (request: ledgerV1.PauseRunRequest, context) => {
      return ledger.once("run", request.runId, "pause_run", request, async (call, before, ref) => {
        return (await ledger.meter(ref, { nextState: before.state === "running" ? "paused" : before.state, call, ...callerOf(context), ...traceOf() })).work;
      }, (answer) => ({ chargedThisCallMicros: answer.chargedThisCallMicros.toString(), chargedMicros: answer.chargedThisCallMicros.toString() }));
    }, options),

    resumeRun: unary(async (request: ledgerV1.ResumeRunRequest) => {
      return ledger.once("run", request.runId, "resume_run", request, async (call, _before, ref) => {
        return (await ledger.resume(ref, call)).work;
      }, (answer) => ({ proceed: answer.state === "running" }));
    }, options),

    endRun: unary(async (request: ledgerV1.EndRunRequest, context) => {
      return ledger.once("run", request.runId, "end_run", request, async (call, before, ref) => {
        const state = L.runEndStateToJSON(request.state).slice("RUN_END_STATE_".length).toLowerCase();
        if (!["finished", "failed", "cancelled"].includes(state)) throw new InvalidArgumentError("state", "must be finished, failed or cancelled");
        return ["running", "paused"].includes(before.state) ? (await ledger.meter(ref, { nextState: state, call, ...callerOf(context), ...traceOf() })).work : undefined;
      }, (answer) => ({
        totalChargedMicros: answer.totalChargedMicros.toString(), chargedMicros: answer.totalChargedMicros.toString(), activeSeconds: String(BigInt(answer.activeMs) / 1000n),
      }));
    }, options),

    deploy: unary(async (request: ledgerV1.DeployRequest) => {
      const outcome = await ledger.deploy({
        accountId: request.accountId,
        deploymentId: request.deploymentId,
        hardware: usageFromProto(request.hardware, "hardware"),
        replicas: request.replicas,
        attribution: attributionFromProto(request.attribution),
        labels: request.labels,
        idempotencyKey: request.idempotencyKey,
        endpoint: request.endpoint,
        context: runContextFromProto(request.context),
        workKind: workKindFromProto(request.workKind),
      });
      if (outcome.allowed) events.notify();
      decisions.started(request.accountId, "deploy", outcome);
      return startToProto(outcome);
    }, options),

    scale: unary(async (request: ledgerV1.ScaleRequest, context) => {
      return ledger.once("deployment", request.deploymentId, "scale_deployment", request, async (call, before, ref) => {
        if (!Number.isInteger(request.replicas) || request.replicas < 0) throw new InvalidArgumentError("replicas", "must not be negative");
        if (before.state !== "running") throw new FailedPreconditionError(`deployment ${request.deploymentId} is ${before.state}`, "DEPLOYMENT_NOT_RUNNING");
        return (await ledger.meter(ref, { replicas: request.replicas, call, ...callerOf(context), ...traceOf() })).work;
      }, (answer) => ({ replicas: answer.replicas }));
    }, options),

    undeploy: unary(async (request: ledgerV1.UndeployRequest, context) => {
      return ledger.once("deployment", request.deploymentId, "undeploy", request, async (call, before, ref) => {
        return before.state === "running" ? (await ledger.meter(ref, { nextState: "undeployed", call, ...callerOf(context), ...traceOf() })).work : undefined;
      }, (answer) => ({ totalChargedMicros: answer.totalChargedMicros.toString(), chargedMicros: answer.totalChargedMicros.toString() }));
    }, options),

    rollOverCycle: unary(async (request: ledgerV1.RollOverCycleRequest) => {
      const outcome = await rollOver(deps, request.accountId);
      return { cycleStart: new Date(outcome.cycleStartMs), rolled: outcome.rolled };
    }, options),

    getHold: unary(async (request: ledgerV1.GetHoldRequest) => {
      if (!request.holdId) throw new InvalidArgumentError("hold_id", "is required");
      const hold = await store.hold(request.holdId);
      if (!hold) throw new NotFoundError("hold", request.holdId);
      return { hold: holdToProto(hold, await ledger.publishedRateTables([BigInt(hold.rateTableSequence)])) };
    }, options),

    listHolds: unary(async (request: ledgerV1.ListHoldsRequest) => {
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListHolds", request);
      const after = tokenCursor(tokenPosition(scope, request.page?.pageToken), "uuid");
      const rows = await store.listHolds({
        ...(request.accountId ? { accountId: request.accountId } : {}),
        ...(request.status ? { status: L.holdStatusToJSON(request.status).slice("HOLD_STATUS_".length).toLowerCase() } : {}),
        ...(after ? { after } : {}),
        limit: limit + 1,
      });
      await requireKnownWhenEmpty(requireAccount, request.accountId, rows);
      const rates = await ledger.publishedRateTables(rows.slice(0, limit).map(({ item }) => BigInt(item.rateTableSequence)));
      const protos = rows.map(({ item, cursor }) => ({ item: holdToProto(item, rates), cursor }));
      const { items, nextPageToken } = newestFirstPage(protos, limit, encodedSize(L.Hold));
      return { holds: items, nextPageToken: scopedToken(scope, nextPageToken) };
    }, options),

    listMeteredWork: unary(async (request: ledgerV1.ListMeteredWorkRequest) => {
      if (request.kind && !["run", "deployment"].includes(request.kind)) throw new InvalidArgumentError("kind", "must be run or deployment");
      if (request.state && !(WORK_STATES as readonly string[]).includes(request.state)) throw new InvalidArgumentError("state", `must be one of ${WORK_STATES.join(", ")}`);
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListMeteredWork", request);
      const after = tokenCursor(tokenPosition(scope, request.page?.pageToken));
      const rows = await store.listWork({
        ...(request.accountId ? { accountId: request.accountId } : {}),
        ...(request.kind ? { kind: request.kind } : {}),
        ...(request.state ? { state: request.state } : {}),
        ...(request.workId ? { workId: request.workId } : {}),
        ...(after ? { after } : {}),
        limit: limit + 1,
      });
      await requireKnownWhenEmpty(requireAccount, request.accountId, rows);
      const protos = rows.map(({ item, cursor }) => ({ item: workToProto(item), cursor }));
      const { items, nextPageToken } = newestFirstPage(protos, limit, encodedSize(L.MeteredWork));
      return { work: items, nextPageToken: scopedToken(scope, nextPageToken) };
    }, options),

    listEntries: unary(async (request: ledgerV1.ListEntriesRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      const { recordedFrom, recordedBefore } = request;
      if (recordedFrom && recordedBefore && recordedBefore <= recordedFrom) {
        throw new InvalidArgumentError("recorded_before", `must be after recorded_from (${recordedFrom.toISOString()})`);
      }
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListEntries", request);
      const position = tokenPosition(scope, request.page?.pageToken);
      const filter = {
        accountId: request.accountId,
        ...(request.holdId ? { holdId: request.holdId } : {}),
        ...(request.kind ? { kind: L.entryKindToJSON(request.kind).slice("ENTRY_KIND_".length).toLowerCase() } : {}),
        attribution: Object.fromEntries(
          Object.entries(request.attribution).map(([key, value]) => [usageDimension(key, `attribution[${key}]`), value]),
        ),
      };
      // A period pages by when entries were recorded (its own index); the whole journal by id.
      const rows: { item: Entry; position: string }[] = recordedFrom || recordedBefore
        ? (await store.entriesRecorded({
            ...filter, period: { ...(recordedFrom ? { from: recordedFrom } : {}), ...(recordedBefore ? { before: recordedBefore } : {}) },
            // The request's account, not the one a token names: an edited one would skip or repeat rows of one moment.
            ...(position ? { after: { ...tokenCursor(position, "bigint")!, accountId: request.accountId } } : {}), limit: limit + 1,
          })).map(({ item, cursor }) => ({ item, position: cursorToken(cursor) }))
        : (await store.entries({ ...filter, ...(position ? { beforeId: BigInt(pageOffset(position)) } : {}), limit: limit + 1 })).map((item) => ({ item, position: item.entryId }));
      await requireKnownWhenEmpty(requireAccount, request.accountId, rows);
      const shown = rows.slice(0, limit).map(({ item }) => item);
      const ids = shown.map((e) => e.entryId);
      const [lines, rates, reversals] = await Promise.all([store.lines(shown.map((e) => ({ accountId: e.accountId, entryId: e.entryId }))), ledger.publishedRateTables(shown.map((e) => BigInt(e.rateTableSequence))), store.reversals(request.accountId, ids)]);
      const protos = rows.map(({ item, position }) => ({ entry: entryToProto(item, lines.filter((line) => line.entryId === item.entryId), rates, reversals), position }));
      const entrySize = encodedSize(L.Entry);
      const { items, nextPageToken } = page(protos, limit, (row) => row.position, (row) => entrySize(row.entry));
      return { entries: items.map((row) => row.entry), nextPageToken: scopedToken(scope, nextPageToken) };
    }, options),

    getLatestEventSequence: unary(async () => ({ sequence: (await store.latestEventSequence()).toString() }), options),
    acknowledgeEvents: unary(async (request: ledgerV1.AcknowledgeEventsRequest) => {
      if (!request.consumer) throw new InvalidArgumentError("consumer", "is required");
      const through = int64(request.throughSequence, "through_sequence");
      return { throughSequence: (await store.acknowledgeEvents(request.consumer, through)).toString() };
    }, options),
    search: unary(async (request: ledgerV1.SearchRequest) => {
      if (!request.query.trim()) throw new InvalidArgumentError("query", "is required");
      if (request.limit < 0 || request.limit > 100) throw new InvalidArgumentError("limit", "must be between 0 and 100");
      const found = await store.search(request.query, request.limit || 20);
      const entryIds = found.flatMap((f) => ("entry" in f ? [{ accountId: f.entry.accountId, entryId: f.entry.entryId }] : []));
      const sequences = found.flatMap((f) => ("entry" in f ? [BigInt(f.entry.rateTableSequence)] : "hold" in f ? [BigInt(f.hold.rateTableSequence)] : []));
      const [lines, rates] = await Promise.all([store.lines(entryIds), ledger.publishedRateTables(sequences)]);
      return {
        hits: found.map((f) => ({
          match: L.searchMatchFromJSON(`SEARCH_MATCH_${f.field.toUpperCase()}`),
          accountId: f.accountId,
          operation: f.operation,
          target:
            "entry" in f
              ? { $case: "entry" as const, entry: entryToProto(f.entry, lines.filter((line) => line.entryId === f.entry.entryId), rates) }
              : "hold" in f
                ? { $case: "hold" as const, hold: holdToProto(f.hold, rates) }
                : "work" in f
                  ? { $case: "work" as const, work: workToProto(f.work) }
                  : undefined,
        })),
      };
    }, options),

    streamEvents: serverStream(async function* (request: ledgerV1.StreamEventsRequest, context) {
      const after = int64(request.afterSequence, "after_sequence");
      const prunedThrough = await store.outboxPrunedThrough();
      if (after < prunedThrough) {
        throw new FailedPreconditionError(`after_sequence ${after}: events up to ${prunedThrough} were pruned (OUTBOX_RETENTION_HOURS); resume from ${prunedThrough} or later`, "EVENTS_PRUNED", { field: "after_sequence", pruned_through: prunedThrough.toString() });
      }
      for await (const { row, head } of events.follow(after, context.signal)) {
        yield { ...(row ? { event: eventToProto(row) } : {}), latestSequence: (head ?? 0n).toString() };
      }
    }, options),
  };
}
