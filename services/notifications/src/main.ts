import { registerTelemetry } from "@tollgate/telemetry";

registerTelemetry({ serviceName: "tollgate-notifications" });

const { baseShape, env, loadConfig, z } = await import("@tollgate/config");
const { onShutdownSignal } = await import("@tollgate/grpc-kit");
const { startNotificationsService } = await import("./index.js");

const config = loadConfig({
  ...baseShape,
  NOTIFICATIONS_PORT: env.port(50054),
  LEDGER_ADDRESS: env.address().default("127.0.0.1:50053"),
  SERVICE_TOKEN: z.string().optional(),
});
const service = await startNotificationsService({
  databaseUrl: config.DATABASE_URL,
  port: config.NOTIFICATIONS_PORT,
  host: config.GRPC_HOST,
  poolMax: config.DB_POOL_MAX,
  ledgerAddress: config.LEDGER_ADDRESS,
  ...(config.SERVICE_TOKEN ? { serviceToken: config.SERVICE_TOKEN } : {}),
});
console.log(JSON.stringify({ level: "info", service: "notifications", msg: "listening", address: service.address }));
onShutdownSignal(() => service.stop());
