import { registerTelemetry } from "@tollgate/telemetry";

registerTelemetry({ serviceName: "tollgate-entitlements" });

const { baseShape, env, loadConfig, z } = await import("@tollgate/config");
const { onShutdownSignal } = await import("@tollgate/grpc-kit");
const { startEntitlementsService } = await import("./index.js");

const config = loadConfig({
  ...baseShape,
  ENTITLEMENTS_PORT: env.port(50051),
  SERVICE_TOKEN: z.string().optional(),
});
const service = await startEntitlementsService({
  databaseUrl: config.DATABASE_URL,
  port: config.ENTITLEMENTS_PORT,
  host: config.GRPC_HOST,
  poolMax: config.DB_POOL_MAX,
  ...(config.SERVICE_TOKEN ? { serviceToken: config.SERVICE_TOKEN } : {}),
});
console.log(JSON.stringify({ level: "info", service: "entitlements", msg: "listening", address: service.address }));
onShutdownSignal(() => service.stop());
