import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

export type ServiceName = "entitlements" | "pricing" | "ledger" | "notifications";

export interface ServiceProcesses {
  pids: Record<ServiceName, number>;
  addresses: Record<ServiceName, string>;
  /** SIGTERM to every service (they drain), SIGKILL after 15 s. */
  stop(): Promise<void>;
  /** Resolves when any service exits unexpectedly. */
  exited: Promise<{ name: ServiceName; code: number | null }>;
}

const root = new URL("..", import.meta.url).pathname;

/**
 * Starts the four services as separate Node processes, in dependency order
 * (entitlements and pricing, then the ledger, then notifications), each
 * resolving once it logs the address it listens on; later services are given
 * those addresses (so port 0 works).
 */
export async function spawnServices(options: {
  databaseUrl: string;
  host?: string;
  ports: Record<ServiceName, number>;
  env?: Record<string, string>;
  onLine?: (service: ServiceName, line: string, stream: "stdout" | "stderr") => void;
}): Promise<ServiceProcesses> {
  const host = options.host ?? "127.0.0.1";
  const addresses = Object.fromEntries(Object.entries(options.ports).map(([name, port]) => [name, `${host}:${port}`])) as Record<ServiceName, string>;
  const children: { name: ServiceName; child: ChildProcess }[] = [];
  let stopping = false;
  let reportExit: (value: { name: ServiceName; code: number | null }) => void = () => undefined;
  const exited = new Promise<{ name: ServiceName; code: number | null }>((resolve) => (reportExit = resolve));

  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    GRPC_HOST: host,
    ENTITLEMENTS_PORT: String(options.ports.entitlements),
    PRICING_PORT: String(options.ports.pricing),
    LEDGER_PORT: String(options.ports.ledger),
    NOTIFICATIONS_PORT: String(options.ports.notifications),
    ENTITLEMENTS_ADDRESS: addresses.entitlements,
    PRICING_ADDRESS: addresses.pricing,
    LEDGER_ADDRESS: addresses.ledger,
    ...options.env,
  };

  const start = (name: ServiceName) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(root, "services", name, "src", "main.ts")], { env: { ...env }, stdio: ["ignore", "pipe", "pipe"] });
      children.push({ name, child });
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (line.includes('"msg":"listening"')) {
          addresses[name] = (JSON.parse(line) as { address: string }).address;
          env[`${name.toUpperCase()}_ADDRESS`] = addresses[name];
          resolve();
        }
        options.onLine?.(name, line, "stdout");
      });
      createInterface({ input: child.stderr! }).on("line", (line) => options.onLine?.(name, line, "stderr"));
      child.once("exit", (code) => {
        if (stopping) return;
        reject(new Error(`${name} exited with code ${code}`));
        reportExit({ name, code });
      });
    });

  const stop = async () => {
    stopping = true;
    await Promise.all(
      children
        .filter(({ child }) => child.exitCode === null && child.signalCode === null)
        .map(
          ({ child }) =>
            new Promise<void>((resolve) => {
              child.once("exit", () => resolve());
              child.kill("SIGTERM");
              setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
            }),
        ),
    );
  };

  try {
    await Promise.all([start("entitlements"), start("pricing")]);
    await start("ledger");
    await start("notifications");
  } catch (error) {
    await stop();
    throw error;
  }
  const pids = Object.fromEntries(children.map(({ name, child }) => [name, child.pid!])) as Record<ServiceName, number>;
  return { pids, addresses, stop, exited };
}
