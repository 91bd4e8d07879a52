import { ConfigError, loadConfig, type z } from "@tollgate/config";
import { log } from "@tollgate/telemetry";
import { hardenObjectPrototype } from "./harden.js";
import { onShutdownSignal } from "./server.js";

/**
 * The body of every service's main: harden the object prototype, validate the
 * environment (exit 1 naming each bad variable), start the service, log where
 * it listens, and drain on SIGTERM/SIGINT.
 */
export async function runService<S extends z.ZodRawShape>(
  name: string,
  shape: S,
  start: (config: z.infer<z.ZodObject<S>>) => Promise<{ address: string; metrics?: { url: string }; stop(): Promise<void> }>,
): Promise<void> {
  hardenObjectPrototype();
  let service: { address: string; metrics?: { url: string }; stop(): Promise<void> };
  try {
    service = await start(loadConfig(shape));
  } catch (error) {
    if (error instanceof ConfigError) {
      log().error({ issues: error.issues }, error.message);
      process.exit(1);
    }
    throw error;
  }
  log().info({ address: service.address, ...(service.metrics ? { metrics: service.metrics.url } : {}) }, "listening");
  onShutdownSignal(() => service.stop());
}
