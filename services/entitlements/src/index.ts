import { CallAuditLog, connectionPool, DEFAULT_RETENTION_MS, LogFollower, openDatabase, PostgresIdempotencyStore, schedulePruning } from "@tollgate/db";
import { log, startMetrics } from "@tollgate/telemetry";
import { mikroOrmScope, startGrpcServer, stopInOrder, type RunningServer, type RateLimit, type ServerAuth, type ServerTls } from "@tollgate/grpc-kit";
import { entitlementsV1 } from "@tollgate/proto";
import { AccountSchema } from "./data/account.entity.js";
import { PostgresEntitlementsStore } from "./data/entitlements-store.js";
import { migrations } from "./data/migrations/index.js";
import { PlanVersionSchema } from "./data/plan-version.entity.js";
import { Accounts } from "./domain/accounts.js";
import { Plans } from "./domain/plans.js";
import { Subjects } from "./domain/subjects.js";
import { SubjectSchema } from "./data/subject.entity.js";
import { entitlementsHandlers } from "./transport/entitlements-handlers.js";

export interface EntitlementsServiceOptions {
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

export interface EntitlementsService {
  address: string;
  server: RunningServer;
  metrics: { port: number; url: string };
  stop(): Promise<void>;
}

export async function startEntitlementsService(options: EntitlementsServiceOptions): Promise<EntitlementsService> {
  // Admin and refused calls are written to the platform's audit log (the `audit` schema the gateway shows).
  const audit = await CallAuditLog.open(options.databaseUrl);
  const orm = await openDatabase({
    url: options.databaseUrl,
    schema: "entitlements",
    entities: [PlanVersionSchema, AccountSchema, SubjectSchema],
    migrations,
    ...(options.poolMax ? { poolMax: options.poolMax } : {}),
  });
  const telemetry = await startMetrics({
    serviceName: "tollgate-entitlements",
    port: options.metricsPort ?? 0,
    ...(options.host ? { host: options.host } : {}),
    connectionPool: { name: "entitlements", pool: await connectionPool(orm) },
  });
  const store = new PostgresEntitlementsStore(() => orm.em.getContext());
  const idempotency = new PostgresIdempotencyStore(() => orm.em.getContext(), { table: "entitlements.idempotency_keys", scopeColumn: "scope" });
  const scope = mikroOrmScope(orm.em);
  const handlers = entitlementsHandlers(
    {
      plans: new Plans(store),
      accounts: new Accounts(store),
      subjects: new Subjects(store),
      store,
      idempotency,
      planFeed: new LogFollower((after, limit) => store.plansAfter(after, limit), (row) => BigInt(row.version)),
      accountFeed: new LogFollower((after, limit) => store.accountsAfter(after, limit), (row) => BigInt(row.revision)),
    },
    { scope },
  );
  const server = await startGrpcServer({
    services: [{ name: "tollgate.entitlements.v1.EntitlementsService", definition: entitlementsV1.EntitlementsServiceService, implementation: handlers }],
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
      stopInOrder("entitlements", {
        pruner: () => pruning.stop(),
        "gRPC server": () => server.drain(),
        metrics: () => telemetry.shutdown(),
        database: () => orm.close(),
        "audit log": () => audit.close(),
      }),
  };
}
