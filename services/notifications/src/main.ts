import { registerTelemetry } from "@tollgate/telemetry";

// Telemetry first: it must patch gRPC and pg before they are loaded.
registerTelemetry({ serviceName: "tollgate-notifications" });

const { baseShape, env, z } = await import("@tollgate/config");
const { runService, serverSecurityFromEnv, clientCredentialFromEnv, channelTlsFromEnv } = await import("@tollgate/grpc-kit");
const credentialsOf = <T>(credentials: T | undefined) => (credentials === undefined ? {} : { credentials });
const { startNotificationsService } = await import("./index.js");

await runService(
  "notifications",
  {
    ...baseShape,
    NOTIFICATIONS_PORT: env.port(50054),
    NOTIFICATIONS_METRICS_PORT: env.port(9464),
    LEDGER_ADDRESS: env.address().default("127.0.0.1:50053"),
    ENTITLEMENTS_ADDRESS: env.address().default("127.0.0.1:50051"),
    SMTP_URL: env.optionalUrl(),
    EMAIL_FROM: z.string().default("Tollgate <notifications@tollgate.local>"),
    WEBHOOK_MAX_ATTEMPTS: env.positiveInt(8),
    RETRY_BASE_MS: env.positiveInt(1_000),
    DELIVERED_RETENTION_DAYS: env.positiveInt(30),
    // The same setting, and bounds, as the ledger's keys.
    IDEMPOTENCY_RETENTION_HOURS: z.coerce.number().int().min(24, "keys are kept at least 24 hours").default(168),
    WEBHOOK_ALLOWED_NETWORKS: env.networks(),
  },
  (config) =>
    startNotificationsService({
      databaseUrl: config.DATABASE_URL,
      port: config.NOTIFICATIONS_PORT,
      metricsPort: config.NOTIFICATIONS_METRICS_PORT,
      host: config.GRPC_HOST,
      poolMax: config.DB_POOL_MAX,
      ledgerAddress: config.LEDGER_ADDRESS,
      entitlementsAddress: config.ENTITLEMENTS_ADDRESS,
      ...(config.SMTP_URL ? { smtpUrl: config.SMTP_URL } : {}),
      emailFrom: config.EMAIL_FROM,
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: config.RETRY_BASE_MS,
      deliveredRetentionMs: config.DELIVERED_RETENTION_DAYS * 86_400_000,
      idempotencyRetentionMs: config.IDEMPOTENCY_RETENTION_HOURS * 3_600_000,
      webhookAllowedNetworks: config.WEBHOOK_ALLOWED_NETWORKS,
      ...serverSecurityFromEnv(config),
      ...credentialsOf(clientCredentialFromEnv(config, "notifications", ["service"])),
      ...(config.GRPC_TLS_CA_FILE ? { channelTls: channelTlsFromEnv(config) } : {}),
    }),
);
