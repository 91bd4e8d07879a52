import { registerTelemetry } from "@tollgate/telemetry";

// Telemetry first: it must patch gRPC and pg before they are loaded.
registerTelemetry({ serviceName: "tollgate-pricing" });

const { baseShape, env, z } = await import("@tollgate/config");
const { runService, serverSecurityFromEnv } = await import("@tollgate/grpc-kit");
const { startPricingService } = await import("./index.js");

await runService(
  "pricing",
  {
    ...baseShape,
    PRICING_PORT: env.port(50052),
    PRICING_METRICS_PORT: env.port(9462),
    IDEMPOTENCY_RETENTION_HOURS: z.coerce.number().int().min(24, "keys are kept at least 24 hours").default(168),
  },
  (config) =>
    startPricingService({
      databaseUrl: config.DATABASE_URL,
      port: config.PRICING_PORT,
      metricsPort: config.PRICING_METRICS_PORT,
      host: config.GRPC_HOST,
      poolMax: config.DB_POOL_MAX,
      idempotencyRetentionMs: config.IDEMPOTENCY_RETENTION_HOURS * 3_600_000,
      ...serverSecurityFromEnv(config),
    }),
);
