import { mikroOrmScope, startGrpcServer, stopInOrder, type RunningServer, type RateLimit, type ServerAuth, type ServerTls } from "@tollgate/grpc-kit";
import { CallAuditLog, connectionPool, DEFAULT_RETENTION_MS, LogFollower, openDatabase, PostgresIdempotencyStore, schedulePruning } from "@tollgate/db";
import { log, startMetrics } from "@tollgate/telemetry";
import { pricingV1 } from "@tollgate/proto";
import { migrations } from "./data/migrations/index.js";
import { RateTableVersionSchema } from "./data/rate-table-version.entity.js";
import { PostgresRateTableStore } from "./data/rate-table-store.js";
import { RateTables } from "./domain/rate-tables.js";
import { pricingHandlers } from "./transport/pricing-handlers.js";

export interface PricingServiceOptions {
  databaseUrl: string;
  port: number;
  host?: string;
  poolMax?: number;
  /** Who may call this service. */
  auth: ServerAuth;
  reflection?: boolean;
  /** Calls per second per principal (unset: no limit). */
  rateLimit?: RateLimit;
  /** TLS on the gRPC port (unset: plaintext). */
  tls?: ServerTls;
  /** Port of the Prometheus endpoint `/metrics` (0 or unset: a free port, see `metrics.port`). */
  metricsPort?: number;
  /** How long the answers of keyed calls are kept (default 7 days; `IDEMPOTENCY_RETENTION_HOURS`, at least 24 h). */
  idempotencyRetentionMs?: number;
  /** How often older answers are pruned, 1,000 at a time (default a minute; 0: never). */
  idempotencyPruneIntervalMs?: number;
}

export interface PricingService {
  address: string;
  server: RunningServer;
  metrics: { port: number; url: string };
  stop(): Promise<void>;
}

export async function startPricingService(options: PricingServiceOptions): Promise<PricingService> {
  // Admin and refused calls are written to the platform's audit log (the `audit` schema the gateway shows).
  const audit = await CallAuditLog.open(options.databaseUrl);
  const orm = await openDatabase({
    url: options.databaseUrl,
    schema: "pricing",
    entities: [RateTableVersionSchema],
    migrations,
    ...(options.poolMax ? { poolMax: options.poolMax } : {}),
  });
  const telemetry = await startMetrics({
    serviceName: "tollgate-pricing",
    port: options.metricsPort ?? 0,
    ...(options.host ? { host: options.host } : {}),
    connectionPool: { name: "pricing", pool: await connectionPool(orm) },
  });
  const store = new PostgresRateTableStore(() => orm.em.getContext());
  const feed = new LogFollower((after, limit) => store.after(after, limit), (row) => BigInt(row.sequence));
  const scope = mikroOrmScope(orm.em);
  const idempotency = new PostgresIdempotencyStore(() => orm.em.getContext(), { table: "pricing.idempotency_keys", scopeColumn: "scope" });
  const handlers = pricingHandlers(new RateTables(store), store, idempotency, feed, { scope });
  const server = await startGrpcServer({
    services: [{ name: "tollgate.pricing.v1.PricingService", definition: pricingV1.PricingServiceService, implementation: handlers }],
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
  const pruning = schedulePruning(idempotency, {
    retentionMs: options.idempotencyRetentionMs ?? DEFAULT_RETENTION_MS,
    intervalMs: options.idempotencyPruneIntervalMs ?? 60_000,
    run: scope,
    onError: (error) => log().error({ err: error }, "pruning idempotency keys failed"),
  });
  return {
    address: server.address,
    server,
    metrics: { port: telemetry.port, url: telemetry.url },
    stop: () =>
      stopInOrder("pricing", {
        pruner: () => pruning.stop(),
        "gRPC server": () => server.drain(),
        metrics: () => telemetry.shutdown(),
        database: () => orm.close(),
        "audit log": () => audit.close(),
      }),
  };
}
