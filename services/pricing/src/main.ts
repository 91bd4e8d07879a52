import { registerTelemetry } from "@tollgate/telemetry";

registerTelemetry({ serviceName: "tollgate-pricing" });

const { baseShape, env, loadConfig, z } = await import("@tollgate/config");
const { onShutdownSignal } = await import("@tollgate/grpc-kit");
const { startPricingService } = await import("./index.js");

const config = loadConfig({
  ...baseShape,
  PRICING_PORT: env.port(50052),
  SERVICE_TOKEN: z.string().optional(),
});
const service = await startPricingService({
  databaseUrl: config.DATABASE_URL,
  port: config.PRICING_PORT,
  host: config.GRPC_HOST,
  poolMax: config.DB_POOL_MAX,
  ...(config.SERVICE_TOKEN ? { serviceToken: config.SERVICE_TOKEN } : {}),
});
console.log(JSON.stringify({ level: "info", service: "pricing", msg: "listening", address: service.address }));
onShutdownSignal(() => service.stop());
