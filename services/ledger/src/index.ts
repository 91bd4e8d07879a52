import { CallAuditLog, connectionPool, every, LogFollower, openDatabase } from "@tollgate/db";
import { currentTraceId, currentTraceparent, inSpan, log, startMetrics } from "@tollgate/telemetry";
import { createClient, mikroOrmScope, startGrpcServer, stopInOrder, together, unaryCallInFlight, type RunningServer, type RateLimit, type ServerAuth, type ServerTls, type Credential, type ChannelTls } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { AccountCache } from "./data/account-cache.js";
import { ledgerEntities } from "./data/entities.js";
import { GroupCommitStore } from "./data/group-commit.js";
import { PostgresLedgerStore } from "./data/ledger-store.js";
import { migrations } from "./data/migrations/index.js";
import { openHolds, poolsDrawn } from "./data/operational-reads.js";
import { reconcileSlice, Reconciler } from "./data/reconciliation.js";
import { RateCache } from "./data/rate-cache.js";
import { PostgresLedgerStateStore } from "./data/state-store.js";
import { Ledger } from "./app/metered-work.js";
import { sweep } from "./domain/use-cases/expire.js";
import { CycleOpener, OpenCycles } from "./domain/use-cases/open-cycle.js";
import type { LedgerDeps } from "./domain/use-cases/run.js";
import { LedgerMetrics } from "./metrics.js";
import { DecisionTelemetry } from "./transport/decision-telemetry.js";
import { ledgerHandlers } from "./transport/ledger-handlers.js";
import { MeterSignals } from "./data/meter-signals.js";
import { ledgerMeterPort } from "./transport/meter-ledger-port.js";
import { MeterStreams } from "./transport/meter-stream.js";
import { receiptHandlers } from "./transport/receipt-handlers.js";

export interface LedgerServiceOptions {
  databaseUrl: string;
  port: number;
  host?: string;
  poolMax?: number;
  entitlementsAddress: string;
  pricingAddress: string;
  /** Who may call this service. */
  auth: ServerAuth;
  /** The credential this service sends to the services it calls. */
  credentials?: Credential;
  reflection?: boolean;
  /** Calls per second per principal (unset: no limit). */
  rateLimit?: RateLimit;
  /** TLS on the gRPC port (unset: plaintext). */
  tls?: ServerTls;
  /** TLS on its calls to the other services: the CA certificates theirs are checked against (unset: plaintext). */
  channelTls?: ChannelTls;
  /** How often expired holds are swept (0 disables the sweeper). */
  sweepIntervalMs?: number;
  /** How often running runs and deployments are charged for their time (0 disables the meter). */
  meterIntervalMs?: number;
  /** How long idempotency keys are kept (at least 24 h; default 7 days). */
  idempotencyRetentionMs?: number;
  /** How long sequenced outbox events are kept for consumers that resume (default 7 days; 0: pruned on the next sweep). */
  outboxRetentionMs?: number;
  /** Authorize/Charge transactions in flight at once, each carrying every call that queued meanwhile (0: one transaction per call). */
  groupCommitLanes?: number;
  /** Port of the Prometheus endpoint `/metrics` (0 or unset: a free port, see `metrics.port`). */
  metricsPort?: number;
  /** How often the reconciliation job checks its next slice of accounts (0 disables it). */
  reconcileIntervalMs?: number;
  /** Accounts per reconciliation slice. */
  reconcileSliceAccounts?: number;
  /** Accounts kept in memory, least recently used dropped first (default 50,000; data/account-cache.ts). */
  accountCacheAccounts?: number;
  /** How long a broken Meter stream's hold waits for a reconnect before the unused rest is released (default 30 s). */
  meterGraceMs?: number;
  /** The time the ledger decides commands at (default: the system clock); a test that compares the ledger with the state machine sets it. */
  now?: () => Date;
}

export interface LedgerService {
  address: string;
  server: RunningServer;
  metrics: { port: number; url: string };
  stop(): Promise<void>;
}

export async function startLedgerService(options: LedgerServiceOptions): Promise<LedgerService> {
  // Admin and refused calls are written to the platform's audit log (the `audit` schema the gateway shows).
  const audit = await CallAuditLog.open(options.databaseUrl);
  const orm = await openDatabase({
    url: options.databaseUrl,
    schema: "ledger",
    entities: ledgerEntities,
    migrations,
    ...(options.poolMax ? { poolMax: options.poolMax } : {}),
  });
  const em = () => orm.em.getContext();
  const pool = await connectionPool(orm);
  const scope = mikroOrmScope(orm.em);
  const telemetry = await startMetrics({
    serviceName: "tollgate-ledger",
    port: options.metricsPort ?? 0,
    ...(options.host ? { host: options.host } : {}),
    connectionPool: { name: "ledger", pool },
  });
  const reconciler = new Reconciler(
    (after, limit) => scope(() => reconcileSlice(em(), after, limit)),
    options.reconcileSliceAccounts ?? 500,
    (m) => log().error({ ...m, differenceMicros: m.differenceMicros.toString() }, "reconciliation mismatch"),
  );
  // Every call to entitlements and pricing (watch streams and their unary fallbacks) carries the ledger's credential.
  const credentials = { ...(options.credentials ? { credentials: options.credentials } : {}), ...(options.channelTls ? { channelTls: options.channelTls } : {}) };
  const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, options.entitlementsAddress, credentials);
  const pricing = createClient(pricingV1.PricingServiceClient, options.pricingAddress, credentials);
  const accounts = new AccountCache(entitlements, options.accountCacheAccounts);
  const rates = new RateCache(pricing);
  const metrics = new LedgerMetrics(telemetry.meter, {
    openHolds: () => scope(() => openHolds(em())),
    reconciliation: () => reconciler.state(),
    watchStreams: [...accounts.lags, rates.lag],
    accountCache: () => accounts.stats(),
  });
  const store = new PostgresLedgerStore(em);
  // Every write goes through the state machine: one transaction per batch of concurrent calls (group commit), set-based writes.
  const stateStore = new PostgresLedgerStateStore(pool);
  const lanes = options.groupCommitLanes ?? 1;
  const writes = lanes > 0 ? new GroupCommitStore(stateStore, {
    lanes,
    observe: (size, waits) => metrics.groupCommit(size, waits),
    refused: (size, error) => log().warn({ size, err: error }, "group commit batch refused; retrying its halves"),
    callOf: unaryCallInFlight,
  }) : stateStore;
  // Idempotency keys are kept at least a day; late usage (Charge.occurred_at) may be no older than they are kept.
  const retentionMs = Math.max(options.idempotencyRetentionMs ?? 7 * 86_400_000, 86_400_000);
  const deps: LedgerDeps = {
    store: writes, accounts, rates, now: options.now ?? (() => new Date()), idempotencyRetentionMs: retentionMs, cycles: new OpenCycles(),
    trace: () => ({ traceId: currentTraceId(), traceparent: currentTraceparent() }),
  };
  const cycles = new CycleOpener(deps);
  const ledger = new Ledger(store, rates, deps);
  const events = new LogFollower((after, limit) => store.outboxAfter(after, limit), (row) => BigInt(row.sequence), 250);
  const decisions = new DecisionTelemetry(metrics, (accountId, entryId) => poolsDrawn(em(), accountId, entryId));
  const handlers = {
    ...ledgerHandlers(deps, cycles, ledger, store, events, { scope }, decisions),
    ...receiptHandlers({ em, account: (id) => store.account(id), requireAccount: (id) => accounts.get(id), publishedRateTables: (s) => ledger.publishedRateTables(s), reversals: (a, ids) => store.reversals(a, ids) }, { scope }),
  };
  // Meter streams learn of other callers' charges and of reopened work through LISTEN/NOTIFY, on every replica.
  const signals = new MeterSignals(options.databaseUrl);
  await signals.start();
  const meterStreams = new MeterStreams(ledgerMeterPort(deps, ledger, store, events, decisions, scope), signals, accounts, { graceMs: options.meterGraceMs ?? 30_000 });
  const server = await startGrpcServer({
    services: [{ name: "tollgate.ledger.v1.LedgerService", definition: ledgerV1.LedgerServiceService, implementation: { ...handlers, meter: meterStreams.handler } }],
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    meter: telemetry.meter,
    auth: options.auth,
    audit,
    ...(options.reflection === undefined ? {} : { reflection: options.reflection }),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  telemetry.setReadiness(server.serving);

  const sweepIntervalMs = options.sweepIntervalMs ?? 5_000;
  const outboxRetentionMs = options.outboxRetentionMs ?? 7 * 86_400_000;
  // Expiry goes through the state machine, account by account, like any other write; a sweep with work to do is a
  // trace of its own, which the entries it writes name.
  const sweepTraced = async (accountIds: readonly string[], what: "holds" | "pools"): Promise<number> =>
    accountIds.length === 0
      ? 0
      : inSpan("tollgate.ledger", `ledger.sweep_${what}`, (span) => {
          span.setAttribute("tollgate.accounts", accountIds.length);
          return sweep(deps, accountIds, what);
        });
  // Each job runs one round at a time (a tick while the last still runs is skipped).
  const sweeper = every(
    sweepIntervalMs,
    () =>
      scope(async () => {
        await sweepTraced(await store.expiredHoldAccounts(500), "holds");
        await store.pruneIdempotencyKeys(retentionMs, 1_000);
        await store.pruneOutbox(outboxRetentionMs, 1_000);
        if ((await sweepTraced(await store.expiredPoolAccounts(100), "pools")) > 0) events.notify();
      }),
    (error) => log().error({ err: error }, "expiry sweep failed"),
  );

  // The metering tick: long runs and deployments are charged as they go, and stopped when the money is gone.
  const meterIntervalMs = options.meterIntervalMs ?? 10_000;
  const meter = every(
    meterIntervalMs,
    () =>
      scope(async () => {
        if ((await ledger.meterDue(meterIntervalMs)) > 0) events.notify();
      }),
    (error) => log().error({ err: error }, "metering tick failed"),
  );

  // Reconciliation: journal = balances and held = open holds, one slice of accounts per tick, for ever.
  const reconcile = every(options.reconcileIntervalMs ?? 10_000, () => reconciler.step(), (error) => log().error({ err: error }, "reconciliation step failed"));

  return {
    address: server.address,
    server,
    metrics: { port: telemetry.port, url: telemetry.url },
    stop: () =>
      stopInOrder("ledger", {
        // The three at once: each waits for its round under way.
        "background jobs": together({ "expiry sweep": () => sweeper.stop(), "metering tick": () => meter.stop(), reconciliation: () => reconcile.stop() }),
        "Meter streams": () => meterStreams.stop(),
        "gRPC server": () => server.drain(),
        caches: () => {
          accounts.stop();
          rates.stop();
        },
        "stop signals": () => signals.stop(),
        clients: () => {
          entitlements.close();
          pricing.close();
        },
        metrics: () => telemetry.shutdown(),
        database: () => orm.close(),
        "audit log": () => audit.close(),
      }),
  };
}
