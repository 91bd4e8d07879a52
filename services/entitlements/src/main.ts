import { registerTelemetry } from "@tollgate/telemetry";

// Telemetry first: it must patch gRPC and pg before they are loaded.
registerTelemetry({ serviceName: "tollgate-entitlements" });

const { baseShape, env, z } = await import("@tollgate/config");
const { runService, serverSecurityFromEnv } = await import("@tollgate/grpc-kit");
const { startEntitlementsService } = await import("./index.js");

await runService(
  "entitlements",
  {
    ...baseShape,
    ENTITLEMENTS_PORT: env.port(50051),
    ENTITLEMENTS_METRICS_PORT: env.port(9461),
    IDEMPOTENCY_RETENTION_HOURS: z.coerce.number().int().min(24, "keys are kept at least 24 hours").default(168),
  },
  (config) =>
    startEntitlementsService({
      databaseUrl: config.DATABASE_URL,
      port: config.ENTITLEMENTS_PORT,
      metricsPort: config.ENTITLEMENTS_METRICS_PORT,
      host: config.GRPC_HOST,
      poolMax: config.DB_POOL_MAX,
      idempotencyRetentionMs: config.IDEMPOTENCY_RETENTION_HOURS * 3_600_000,
      ...serverSecurityFromEnv(config),
    }),
);
