import { registerTelemetry } from "@tollgate/telemetry";

// Telemetry first: it must patch gRPC and pg before they are loaded.
registerTelemetry({ serviceName: "tollgate-notifications" });

const { baseShape, env } = await import("@tollgate/config");
const { runService } = await import("@tollgate/grpc-kit");
const { startNotificationsService } = await import("./index.js");

await runService(
  "notifications",
  {
    ...baseShape,
    NOTIFICATIONS_PORT: env.port(50054),
    LEDGER_ADDRESS: env.address().default("127.0.0.1:50053"),
  },
  (config) =>
    startNotificationsService({
      databaseUrl: config.DATABASE_URL,
      port: config.NOTIFICATIONS_PORT,
      host: config.GRPC_HOST,
      poolMax: config.DB_POOL_MAX,
      ledgerAddress: config.LEDGER_ADDRESS,
      ...(config.SERVICE_TOKEN ? { serviceToken: config.SERVICE_TOKEN } : {}),
    }),
);
