import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

export type ServiceName = "entitlements" | "pricing" | "ledger" | "notifications" | "gateway";
type GrpcService = Exclude<ServiceName, "gateway">;

export interface ServiceProcess {
  name: ServiceName;
  child: ChildProcess;
  address: string;
  /** The Prometheus endpoint it logged (gRPC services). */
  metrics?: string;
}

const root = new URL("..", import.meta.url).pathname;

/** Old-space heap limit of each service process, in MiB (`SERVICE_MAX_OLD_SPACE_MIB`). */
export const DEFAULT_MAX_OLD_SPACE_MIB = 256;
/** Young-generation semi-space of each service process, in MiB (`SERVICE_MAX_SEMI_SPACE_MIB`). */
export const DEFAULT_MAX_SEMI_SPACE_MIB = 16;

/**
 * Starts one service (`services/<name>/src/main.ts`) as a Node process and
 * resolves with the address it logs once it listens. `onExit` hears of an
 * exit that `stopProcesses` did not ask for.
 */
export function spawnService(
  name: ServiceName,
  env: Record<string, string | undefined>,
  hooks: { onLine?: (service: ServiceName, line: string, stream: "stdout" | "stderr") => void; onExit?: (name: ServiceName, code: number | null) => void } = {},
): Promise<ServiceProcess> {
  return new Promise((resolve, reject) => {
    // A bounded heap: V8 otherwise grows a busy service to ~500 MiB while ~250 MiB is enough, and a larger
    // young generation lets a request's short-lived objects die young instead of filling the old space (see bench/README.md).
    const heap = [
      `--max-old-space-size=${env.SERVICE_MAX_OLD_SPACE_MIB ?? DEFAULT_MAX_OLD_SPACE_MIB}`,
      `--max-semi-space-size=${env.SERVICE_MAX_SEMI_SPACE_MIB ?? DEFAULT_MAX_SEMI_SPACE_MIB}`,
    ];
    const child = spawn(process.execPath, [...heap, "--import", "tsx", join(root, "services", name, "src", "main.ts")], { env, stdio: ["ignore", "pipe", "pipe"] });
    let listening = false;
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!listening && line.includes('"msg":"listening"')) {
        listening = true;
        const { address, metrics } = JSON.parse(line) as { address: string; metrics?: string };
        resolve({ name, child, address, ...(metrics ? { metrics } : {}) });
      }
      hooks.onLine?.(name, line, "stdout");
    });
    createInterface({ input: child.stderr! }).on("line", (line) => hooks.onLine?.(name, line, "stderr"));
    child.once("exit", (code) => {
      if (stopping.has(child)) return;
      if (!listening) reject(new Error(`${name} exited with code ${code} before it listened`));
      hooks.onExit?.(name, code);
    });
  });
}

const stopping = new WeakSet<ChildProcess>();

/** SIGTERM to each (they drain), SIGKILL after 15 s. */
export async function stopProcesses(processes: ServiceProcess[]): Promise<void> {
  await Promise.all(
    processes
      .filter(({ child }) => child.exitCode === null && child.signalCode === null)
      .map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            stopping.add(child);
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
            setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
          }),
      ),
  );
}

export interface ServiceProcesses {
  processes: ServiceProcess[];
  pids: Record<GrpcService, number>;
  addresses: Record<GrpcService, string>;
  /** Each service's Prometheus endpoint. */
  metrics: Record<GrpcService, string>;
  stop(): Promise<void>;
}

/**
 * Starts the four gRPC services in dependency order (entitlements and
 * pricing, then the ledger, then notifications); later services are given the
 * addresses the earlier ones listen on (so port 0 works).
 */
export async function spawnServices(options: {
  databaseUrl: string;
  host?: string;
  ports: Record<GrpcService, number>;
  env?: Record<string, string>;
  onLine?: (service: ServiceName, line: string, stream: "stdout" | "stderr") => void;
  onExit?: (name: ServiceName, code: number | null) => void;
}): Promise<ServiceProcesses> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    GRPC_HOST: options.host ?? "127.0.0.1",
    ENTITLEMENTS_PORT: String(options.ports.entitlements),
    PRICING_PORT: String(options.ports.pricing),
    LEDGER_PORT: String(options.ports.ledger),
    NOTIFICATIONS_PORT: String(options.ports.notifications),
    // A service on a free gRPC port gets a free metrics port too (several platforms on one machine).
    ...Object.fromEntries(Object.entries(options.ports).filter(([, port]) => port === 0).map(([name]) => [`${name.toUpperCase()}_METRICS_PORT`, "0"])),
    ...options.env,
  };
  const processes: ServiceProcess[] = [];
  const start = async (name: GrpcService) => {
    const started = await spawnService(name, { ...env }, options);
    processes.push(started);
    env[`${name.toUpperCase()}_ADDRESS`] = started.address;
  };
  // Wait for every start of a step to settle, so a sibling that is still
  // starting when another fails is stopped too, not orphaned.
  const step = async (names: GrpcService[]) => {
    const results = await Promise.allSettled(names.map(start));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await stopProcesses(processes);
      throw failed.reason;
    }
  };
  await step(["entitlements", "pricing"]);
  await step(["ledger"]);
  await step(["notifications"]);
  const by = (name: GrpcService) => processes.find((p) => p.name === name)!;
  const names: GrpcService[] = ["entitlements", "pricing", "ledger", "notifications"];
  return {
    processes,
    pids: Object.fromEntries(names.map((n) => [n, by(n).child.pid!])) as Record<GrpcService, number>,
    addresses: Object.fromEntries(names.map((n) => [n, by(n).address])) as Record<GrpcService, string>,
    metrics: Object.fromEntries(names.map((n) => [n, by(n).metrics ?? ""])) as Record<GrpcService, string>,
    stop: () => stopProcesses(processes),
  };
}
