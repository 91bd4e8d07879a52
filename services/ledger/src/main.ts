import { registerTelemetry } from "@tollgate/telemetry";

// Telemetry first: it must patch gRPC and pg before they are loaded.
registerTelemetry({ serviceName: "tollgate-ledger" });

const { baseShape, env, z } = await import("@tollgate/config");
const { runService, serverSecurityFromEnv, clientCredentialFromEnv, channelTlsFromEnv } = await import("@tollgate/grpc-kit");
const credentialsOf = <T>(credentials: T | undefined) => (credentials === undefined ? {} : { credentials });
const { startLedgerService } = await import("./index.js");
const { DEFAULT_ACCOUNT_CACHE_ACCOUNTS } = await import("./data/account-cache.js");

await runService(
  "ledger",
  {
    ...baseShape,
    LEDGER_PORT: env.port(50053),
    LEDGER_METRICS_PORT: env.port(9463),
    ENTITLEMENTS_ADDRESS: env.address().default("127.0.0.1:50051"),
    PRICING_ADDRESS: env.address().default("127.0.0.1:50052"),
    HOLD_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(5_000),
    METER_INTERVAL_MS: z.coerce.number().int().min(0).default(10_000),
    IDEMPOTENCY_RETENTION_HOURS: z.coerce.number().int().min(24, "keys are kept at least 24 hours").default(168),
    OUTBOX_RETENTION_HOURS: z.coerce.number().int().min(1, "events are kept at least an hour").default(168),
    GROUP_COMMIT_LANES: z.coerce.number().int().min(0).max(64).default(1),
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(0).default(10_000),
    RECONCILE_SLICE_ACCOUNTS: z.coerce.number().int().min(1).max(10_000).default(500),
    METER_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
    ACCOUNT_CACHE_ACCOUNTS: z.coerce.number().int().min(1).default(DEFAULT_ACCOUNT_CACHE_ACCOUNTS),
  },
  (config) =>
    startLedgerService({
      databaseUrl: config.DATABASE_URL,
      port: config.LEDGER_PORT,
      metricsPort: config.LEDGER_METRICS_PORT,
      host: config.GRPC_HOST,
      poolMax: config.DB_POOL_MAX,
      entitlementsAddress: config.ENTITLEMENTS_ADDRESS,
      pricingAddress: config.PRICING_ADDRESS,
      sweepIntervalMs: config.HOLD_SWEEP_INTERVAL_MS,
      meterIntervalMs: config.METER_INTERVAL_MS,
      idempotencyRetentionMs: config.IDEMPOTENCY_RETENTION_HOURS * 3_600_000,
      outboxRetentionMs: config.OUTBOX_RETENTION_HOURS * 3_600_000,
      groupCommitLanes: config.GROUP_COMMIT_LANES,
      reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
      reconcileSliceAccounts: config.RECONCILE_SLICE_ACCOUNTS,
      meterGraceMs: config.METER_GRACE_MS,
      accountCacheAccounts: config.ACCOUNT_CACHE_ACCOUNTS,
      ...serverSecurityFromEnv(config),
      ...credentialsOf(clientCredentialFromEnv(config, "ledger", ["service"])),
      ...(config.GRPC_TLS_CA_FILE ? { channelTls: channelTlsFromEnv(config) } : {}),
    }),
);
