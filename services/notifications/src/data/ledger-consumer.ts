import { status } from "@grpc/grpc-js";
import { SILENT_STREAM_MS, SilenceWatchdog } from "@tollgate/db";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { ledgerV1 } from "@tollgate/proto";
import { log, withRemoteParent } from "@tollgate/telemetry";
import { commonV1, entitlementsV1 } from "@tollgate/proto";
import { unitFromProto } from "@tollgate/rating";
import type { LedgerEventFacts, Unit } from "../domain/rules.js";
import type { NotificationsStore } from "./notifications-store.js";

export type EventHandler = (event: { sequence: bigint; facts?: LedgerEventFacts }) => Promise<void>;

const unitOf = (unit: commonV1.Unit): Unit => unitFromProto(unit, "event.unit");
/** The event's kind of work as alerts name it ("custom_script"; empty: none). */
const workKindName = (kind: commonV1.WorkKind): string =>
  kind === commonV1.WorkKind.WORK_KIND_UNSPECIFIED ? "" : commonV1.workKindToJSON(kind).replace(/^WORK_KIND_/, "").toLowerCase().replace(/^unrecognized$/, "");

/** The domain facts of a ledger event (undefined for kinds this service does not act on). */
export function factsOf(event: ledgerV1.LedgerEvent): LedgerEventFacts | undefined {
  switch (event.kind?.$case) {
    case "thresholdCrossed": {
      const crossed = event.kind.thresholdCrossed;
      return {
        kind: "threshold_crossed",
        accountId: event.accountId,
        sequence: BigInt(event.sequence),
        unit: unitOf(crossed.unit),
        thresholdPercent: crossed.thresholdPercent,
        percentUsed: crossed.percentUsed,
        cycle: crossed.cycle,
      };
    }
    case "poolExpired": {
      const expired = event.kind.poolExpired;
      return {
        kind: "pool_expired",
        accountId: event.accountId,
        poolId: expired.poolId,
        poolKind: entitlementsV1.poolKindToJSON(expired.kind).slice("POOL_KIND_".length).toLowerCase(),
        // Events written before the pool's unit was sent were of credits.
        unit: expired.unit === commonV1.Unit.UNIT_UNSPECIFIED ? "credits" : unitOf(expired.unit),
        expiredMicros: BigInt(expired.expiredMicros),
      };
    }
    case "deploymentChanged":
      return {
        kind: "deployment_changed",
        accountId: event.accountId,
        sequence: BigInt(event.sequence),
        deploymentId: event.kind.deploymentChanged.deploymentId,
        state: event.kind.deploymentChanged.state,
        endpoint: event.kind.deploymentChanged.endpoint,
        replicas: event.kind.deploymentChanged.replicas,
        workKind: workKindName(event.kind.deploymentChanged.workKind),
      };
    case "workStopped":
      return {
        kind: "work_stopped",
        accountId: event.accountId,
        sequence: BigInt(event.sequence),
        runId: event.kind.workStopped.runId,
        deploymentId: event.kind.workStopped.deploymentId,
        message: event.kind.workStopped.message,
        budgetId: event.kind.workStopped.budgetId,
        workKind: workKindName(event.kind.workStopped.workKind),
      };
    case "negativeLimitReached": {
      const reached = event.kind.negativeLimitReached;
      return {
        kind: "negative_limit_reached",
        accountId: event.accountId,
        sequence: BigInt(event.sequence),
        unit: unitOf(reached.unit),
        balanceMicros: BigInt(reached.balanceMicros),
        negativeLimitMicros: BigInt(reached.negativeLimitMicros),
        uncollectedMicros: BigInt(reached.uncollectedMicros),
        cycle: reached.cycle,
      };
    }
    case "spendCapReached":
      return {
        kind: "spend_cap_reached",
        accountId: event.accountId,
        capMicros: BigInt(event.kind.spendCapReached.capMicros),
        spentMicros: BigInt(event.kind.spendCapReached.spentMicros),
        cycle: event.kind.spendCapReached.cycle,
      };
    case "poolReloaded": {
      const reloaded = event.kind.poolReloaded;
      return {
        kind: "pool_reloaded",
        accountId: event.accountId,
        sequence: BigInt(event.sequence),
        poolId: reloaded.poolId,
        unit: unitOf(reloaded.unit),
        amountMicros: BigInt(reloaded.amountMicros),
        priceUsdMicros: reloaded.price ? BigInt(reloaded.price.usdMicros) : undefined,
      };
    }
    case "budgetCrossed": {
      const crossed = event.kind.budgetCrossed;
      return {
        kind: "budget_crossed",
        accountId: event.accountId,
        sequence: BigInt(event.sequence),
        budgetId: crossed.budgetId,
        unit: unitOf(crossed.unit),
        scope: ledgerV1.budgetScopeToJSON(crossed.scope).slice("BUDGET_SCOPE_".length).toLowerCase(),
        scopeId: crossed.scopeId,
        mode: crossed.mode === ledgerV1.BudgetMode.BUDGET_MODE_HARD ? "hard" : "soft",
        thresholdPercent: crossed.thresholdPercent,
        percentUsed: crossed.percentUsed,
        usedMicros: BigInt(crossed.usedMicros),
        limitMicros: BigInt(crossed.limitMicros),
      };
    }
    case "budgetLifted":
      return { kind: "budget_lifted", accountId: event.accountId, budgetId: event.kind.budgetLifted.budgetId };
    case "usageReceded": {
      const receded = event.kind.usageReceded;
      return { kind: "usage_receded", accountId: event.accountId, unit: unitOf(receded.unit), thresholdPercents: receded.thresholdPercents, percentUsed: receded.percentUsed, cycle: receded.cycle };
    }
    case "cycleStarted":
      return { kind: "cycle_started", accountId: event.accountId, cycle: event.kind.cycleStarted.cycle };
    default:
      return undefined;
  }
}

/** How long an event may keep failing before it is skipped (about 120 tries at the reconnect backoff's 5 s). */
export const SKIP_FAILING_EVENT_AFTER_MS = 10 * 60_000;

const OUTAGE_CODES = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

/**
 * A failure of something the handling needs rather than of the event: a
 * service unreachable, slow or shedding load (gRPC UNAVAILABLE,
 * DEADLINE_EXCEEDED, a RESOURCE_EXHAUSTED that is a caller's rate limit), a
 * database connection lost or refused (Node's codes, PostgreSQL's class 08
 * and shutdown 57P0x). It is waited out, however long: skipping the event
 * would lose its alerts. Any other RESOURCE_EXHAUSTED (a message over its
 * size limit, say) would fail the event every time: it is the event's own.
 */
export function isOutage(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === status.RESOURCE_EXHAUSTED) return errorDetails(error).reason === "RATE_LIMITED";
  if (typeof code === "number") return OUTAGE_CODES.has(code);
  if ((error as { kind?: unknown } | undefined)?.kind === "unavailable") return true;
  return typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|08|57P0)/.test(code);
}

/**
 * Reads the ledger's event feed at least once, from the offset stored in this
 * service's own schema. Each event is handled in a span whose parent is the
 * ledger transaction that wrote it (the traceparent kept in the outbox row).
 * On a stream error it reconnects from the stored offset, so events that were
 * sent but not recorded are read again (and de-duplicated by their key).
 * Every `acknowledgeMs` it tells the ledger the stored offset
 * (AcknowledgeEvents): the ledger prunes no outbox row this consumer has not
 * recorded. A stream that has sent a heartbeat and then nothing for
 * `silenceMs` (the ledger or the connection hung without a word) is cancelled
 * and opened again the same way; a ledger of an earlier version sends no
 * heartbeats, and its quiet stream is left open.
 */
export class LedgerConsumer {
  private stopped = false;
  private stream: ReturnType<ledgerV1.LedgerServiceClient["streamEvents"]> | undefined;
  private backoffMs = 100;
  /** The highest sequence the ledger has sent, and the last one recorded here (the stored offset). */
  private received = 0n;
  private recorded = 0n;
  /** The offset the ledger was last told (-1: not yet), and whether a call telling it is in flight. */
  private acknowledged = -1n;
  private acknowledging = false;
  private acknowledgeFailing = false;
  private acknowledger: NodeJS.Timeout | undefined;
  /** The events received and not yet handled, one at a time, in order. */
  private chain = Promise.resolve();
  /** The event whose handling is failing: since when, and how many tries. */
  private failing: { sequence: bigint; sinceMs: number; attempts: number; outageSinceMs?: number } | undefined;
  private watchdog: SilenceWatchdog | undefined;
  readonly consumer: string;
  private readonly acknowledgeMs: number;
  private readonly skipFailingAfterMs: number;
  private readonly silenceMs: number;

  constructor(
    private readonly client: ledgerV1.LedgerServiceClient,
    private readonly store: NotificationsStore,
    private readonly scope: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly handle: EventHandler,
    options: { consumer?: string; acknowledgeMs?: number; skipFailingAfterMs?: number; silenceMs?: number } = {},
  ) {
    this.consumer = options.consumer ?? "notifications";
    this.acknowledgeMs = options.acknowledgeMs ?? 1_000;
    this.skipFailingAfterMs = options.skipFailingAfterMs ?? SKIP_FAILING_EVENT_AFTER_MS;
    this.silenceMs = options.silenceMs ?? SILENT_STREAM_MS;
  }

  /** Tells the ledger the stored offset when it moved (one call at a time; a failure is retried on the next tick). */
  private async acknowledge(): Promise<void> {
    const through = this.recorded;
    if (this.acknowledging || through <= this.acknowledged) return;
    this.acknowledging = true;
    try {
      await call(this.client, this.client.acknowledgeEvents, { consumer: this.consumer, throughSequence: through.toString() });
      this.acknowledged = through;
      this.acknowledgeFailing = false;
    } catch (error) {
      // Said once per outage (the stream reports its own reconnects).
      if (!this.stopped && !this.acknowledgeFailing) log().warn({ error: (error as Error).message, through: String(through) }, "acknowledging ledger events failed; retrying");
      this.acknowledgeFailing = true;
    } finally {
      this.acknowledging = false;
    }
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    if (!this.acknowledger && this.acknowledgeMs > 0) {
      this.acknowledger = setInterval(() => void this.acknowledge(), this.acknowledgeMs);
      this.acknowledger.unref();
    }
    let after: bigint;
    try {
      after = await this.scope(() => this.store.offset(this.consumer));
    } catch (error) {
      log().error({ err: error }, "reading the consumer offset failed");
      return this.retry();
    }
    if (this.stopped) return;
    this.recorded = after;
    if (this.received < after) this.received = after;
    const stream = this.client.streamEvents({ afterSequence: after.toString() });
    this.stream = stream;
    let failed = false;
    // Armed by the first heartbeat: a ledger of an earlier version sends none, and its quiet stream is left open.
    let heartbeats = false;
    const watchdog = new SilenceWatchdog(this.silenceMs, () => {
      if (this.stream !== stream) return;
      log().warn({ silenceMs: this.silenceMs }, "ledger event stream silent; reconnecting");
      stream.cancel();
    });
    this.watchdog = watchdog;
    stream.on("data", (message: ledgerV1.StreamEventsResponse) => {
      if (this.stream !== stream) return; // still buffered on a stream given up: the next one re-reads from the stored offset
      const latest = BigInt(message.latestSequence);
      if (latest > this.received) this.received = latest;
      const event = message.event;
      if (!event) heartbeats = true;
      if (heartbeats) watchdog.heard();
      if (!event) return;
      if (BigInt(event.sequence) > this.received) this.received = BigInt(event.sequence);
      // After stop, or after an event of this stream failed, what is still queued is left to the next start, which
      // re-reads from the stored offset: handling it would record an offset past the event that failed.
      this.chain = this.chain.then(() => (this.stopped || failed ? undefined : this.process(event))).catch(async (error: unknown) => {
        failed = true;
        await this.failed(BigInt(event.sequence), error);
        stream.cancel();
      });
    });
    const restart = () => {
      if (this.stream !== stream) return;
      watchdog.stop();
      this.stream = undefined;
      void this.chain.finally(() => this.retry());
    };
    stream.on("error", (error: Error) => {
      if (!this.stopped) log().warn({ error: error.message }, "ledger event stream broke; reconnecting");
      restart();
    });
    stream.on("end", restart);
  }

  /**
   * An event's handling failed: it is read again from the stored offset. One that has kept failing for
   * `skipFailingAfterMs` (and three tries), other than for an outage (isOutage), is skipped, recorded with nothing decided: it must not stop every
   * notification after it, nor the ledger's pruning of its events.
   */
  private async failed(sequence: bigint, error: unknown): Promise<void> {
    if (isOutage(error)) {
      // Not the event's fault: not a try of its own, and its time not counted. Its own failures before and after still count.
      if (this.failing?.sequence === sequence) this.failing.outageSinceMs ??= Date.now();
      log().warn({ error: (error as Error).message, sequence: String(sequence) }, "handling a ledger event waits for an outage to end; re-reading from the stored offset");
      return;
    }
    if (this.failing?.sequence !== sequence) this.failing = { sequence, sinceMs: Date.now(), attempts: 0 };
    const failing = this.failing;
    if (failing.outageSinceMs !== undefined) {
      failing.sinceMs += Date.now() - failing.outageSinceMs; // the outage's time does not count toward skipping
      failing.outageSinceMs = undefined;
    }
    failing.attempts++;
    if (failing.attempts < 3 || Date.now() - failing.sinceMs < this.skipFailingAfterMs) {
      log().error({ err: error, sequence: String(sequence), attempts: failing.attempts }, "handling a ledger event failed; re-reading from the stored offset");
      return;
    }
    log().error({ err: error, sequence: String(sequence), attempts: failing.attempts }, "a ledger event kept failing: skipped, its banners and notifications are not made");
    try {
      await this.scope(() => this.store.recordEvent(this.consumer, sequence, { banners: [], deliveries: [] }, { traceId: "", traceparent: "" }));
      this.recorded = sequence;
      this.failing = undefined;
    } catch (recordError) {
      log().error({ err: recordError, sequence: String(sequence) }, "skipping a ledger event failed; it is tried again");
    }
  }

  private retry(): void {
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
    setTimeout(() => void this.start(), delay).unref();
  }

  private async process(event: ledgerV1.LedgerEvent): Promise<void> {
    const kind = event.kind?.$case ?? "unknown";
    await withRemoteParent("tollgate.notifications", `notifications.consume ${kind}`, event.traceparent, async (span) => {
      span.setAttribute("tollgate.account_id", event.accountId);
      span.setAttribute("tollgate.event_sequence", event.sequence);
      const facts = factsOf(event);
      await this.scope(() => this.handle({ sequence: BigInt(event.sequence), ...(facts ? { facts } : {}) }));
    });
    this.recorded = BigInt(event.sequence);
    this.backoffMs = 100;
  }

  /** Outbox lag: events the ledger has sent that are not yet recorded here (while the stream is up, the ledger's latest sequence minus the stored offset). */
  lag(): number {
    return Number(this.received - this.recorded);
  }

  /** Stops reading; resolves once the event being handled is done, so the store may close after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.acknowledger) clearInterval(this.acknowledger);
    this.watchdog?.stop();
    this.stream?.cancel();
    this.stream = undefined;
    await this.chain;
  }
}
