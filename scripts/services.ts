import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

export type ServiceName = "entitlements" | "pricing" | "ledger" | "notifications" | "gateway";
type GrpcService = Exclude<ServiceName, "gateway">;

export interface ServiceProcess {
  name: ServiceName;
  child: ChildProcess;
  address: string;
  /** The Prometheus endpoint it logged. */
  metrics?: string;
}

const root = new URL("..", import.meta.url).pathname;

/** Old-space heap limit of each service process, in MiB (`SERVICE_MAX_OLD_SPACE_MIB`). */
export const DEFAULT_MAX_OLD_SPACE_MIB = 256;
/** Young-generation semi-space of each service process, in MiB (`SERVICE_MAX_SEMI_SPACE_MIB`). */
export const DEFAULT_MAX_SEMI_SPACE_MIB = 16;
/** Helper threads a service's major collection marks on (`SERVICE_GC_MARKING_THREADS`; 0, the default, is V8's own: one per worker thread). */
export const DEFAULT_GC_MARKING_THREADS = 0;

/** A process setting from the environment: unset is `fallback`; anything but a whole number stops the start naming the variable. */
function wholeNumber(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  if (!/^\d{1,6}$/.test(text)) throw new Error(`${name} must be a whole number, not ${JSON.stringify(text)}`);
  return Number(text);
}

type OnLine = (service: ServiceName, line: string, stream: "stdout" | "stderr") => void;
type OnExit = (name: ServiceName, code: number | null, signal: NodeJS.Signals | null) => void;

/**
 * Starts one service as a Node process, from its bundle
 * (`services/<name>/dist/main.js`, see scripts/build-services.ts) or from
 * `entry` (a `.ts` entry runs through tsx), and resolves with the address it
 * logs once it listens; an exit before that rejects. `onExit` hears of a
 * later exit that `stopProcesses` did not ask for.
 */
export function spawnService(
  name: ServiceName,
  env: Record<string, string | undefined>,
  hooks: { onLine?: OnLine; onExit?: OnExit } = {},
  entry = join(root, "services", name, "dist", "main.js"),
): Promise<ServiceProcess> {
  if (!existsSync(entry)) return Promise.reject(new Error(`${entry} does not exist: build the services first (npm run build:services)`));
  return new Promise((resolve, reject) => {
    // A bounded heap: V8 otherwise grows a busy service to ~500 MiB while ~250 MiB is enough, and a larger
    // young generation lets a request's short-lived objects die young instead of filling the old space. Fewer marking
    // threads leave more of a small machine to the process's own work, for more memory (see bench/README.md).
    let heap: string[];
    try {
      heap = [
        `--max-old-space-size=${wholeNumber(env, "SERVICE_MAX_OLD_SPACE_MIB", DEFAULT_MAX_OLD_SPACE_MIB)}`,
        `--max-semi-space-size=${wholeNumber(env, "SERVICE_MAX_SEMI_SPACE_MIB", DEFAULT_MAX_SEMI_SPACE_MIB)}`,
        `--concurrent-marking-max-worker-num=${wholeNumber(env, "SERVICE_GC_MARKING_THREADS", DEFAULT_GC_MARKING_THREADS)}`,
      ];
    } catch (error) {
      return reject(error as Error);
    }
    const loader = entry.endsWith(".ts") ? ["--import", "tsx"] : [];
    const child = spawn(process.execPath, [...heap, ...loader, entry], { env, stdio: ["ignore", "pipe", "pipe"] });
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
    child.once("exit", (code, signal) => {
      if (stopping.has(child)) return;
      if (!listening) reject(new Error(`${name} exited (${describeExit(code, signal)}) before it listened`));
      else hooks.onExit?.(name, code, signal);
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

const describeExit = (code: number | null, signal: NodeJS.Signals | null) => (signal ? `signal ${signal}` : `code ${code}`);

/** How long a crashed service waits before it is started again. */
export interface Backoff {
  /** Before the first restart; each further restart in a row waits twice as long as the one before. */
  initialMs: number;
  maxMs: number;
  /** A service that stayed up this long counts its next crash as the first again. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 30_000, resetAfterMs: 60_000 };

/** The delay before the `restarts`-th restart in a row (1-based): initial, 2×, 4×…, at most `maxMs`. */
export function restartDelayMs(restarts: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(restarts - 1, 30));
}

/** A service that is started again when it crashes; `child` is the process running now. */
export interface SupervisedService extends ServiceProcess {
  /** Stops the process and any restart to come. */
  stop(): Promise<void>;
}

/**
 * Starts a service and keeps it running: when it crashes (an exit with a
 * non-zero code or by a signal, not asked for by `stop`) it is started again
 * on the same port after an exponential backoff, with a log line naming the
 * service, how it exited and the delay; a restart that fails counts as
 * another crash. A service that exits with code 0 on its own was stopped on
 * purpose (it drained after SIGTERM or Ctrl-C) and stays stopped. The first
 * start is not retried: it rejects as `spawnService` does.
 */
export async function superviseService(
  name: ServiceName,
  env: Record<string, string | undefined>,
  options: { log: (line: string) => void; onLine?: OnLine; backoff?: Backoff; entry?: string },
): Promise<SupervisedService> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  let stopped = false;
  let restarts = 0;
  let upSinceMs = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let starting: Promise<void> | undefined;

  const onExit: OnExit = (_name, code, signal) => {
    if (stopped) return;
    if (code === 0 && signal === null) {
      options.log(`${name} exited (code 0); left stopped`);
      return;
    }
    if (Date.now() - upSinceMs >= backoff.resetAfterMs) restarts = 0;
    scheduleRestart(`${name} exited (${describeExit(code, signal)})`);
  };
  const scheduleRestart = (what: string) => {
    if (stopped) return;
    const delayMs = restartDelayMs(++restarts, backoff);
    options.log(`${what}; restarting in ${delayMs} ms (restart ${restarts} in a row)`);
    timer = setTimeout(() => {
      starting = spawnService(name, restartEnv, { ...(options.onLine ? { onLine: options.onLine } : {}), onExit }, options.entry).then(
        (started) => {
          current = started;
          upSinceMs = Date.now();
          if (!stopped) options.log(`${name} is listening again on ${started.address}`);
        },
        (error: Error) => scheduleRestart(error.message),
      );
    }, delayMs);
  };

  let current = await spawnService(name, env, { ...(options.onLine ? { onLine: options.onLine } : {}), onExit }, options.entry);
  // Restarts listen where the first start did, so the services that found it there still do (even after port 0).
  const restartEnv = { ...env, [`${name.toUpperCase()}_PORT`]: current.address.slice(current.address.lastIndexOf(":") + 1) };
  return {
    name,
    get address() {
      return current.address;
    },
    get child() {
      return current.child;
    },
    get metrics() {
      return current.metrics;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await starting;
      await stopProcesses([current]);
    },
  };
}

export interface ServiceProcesses {
  processes: ServiceProcess[];
  /** The first process of each service. */
  pids: Record<GrpcService, number>;
  addresses: Record<GrpcService, string>;
  /** Every process of each service (more than one with `replicas`). */
  replicas: Record<GrpcService, ServiceProcess[]>;
  /** Each service's Prometheus endpoint. */
  metrics: Record<GrpcService, string>;
  stop(): Promise<void>;
}

/**
 * Starts the four gRPC services in dependency order (entitlements and
 * pricing, then the ledger, then notifications); later services are given the
 * addresses the earlier ones listen on (so port 0 works). With `replicas`,
 * that many ledger and notifications processes run on the one database, each
 * on a free port; the i-th notifications process consumes the i-th ledger's
 * event stream.
 */
export async function spawnServices(options: {
  databaseUrl: string;
  host?: string;
  ports: Record<GrpcService, number>;
  env?: Record<string, string>;
  onLine?: OnLine;
  onExit?: OnExit;
  /** Restart a service that crashes (see `superviseService`) instead of telling `onExit`. */
  supervise?: { log: (line: string) => void; backoff?: Backoff };
  /** Processes of the ledger and of notifications (default 1; more need port 0 for both). */
  replicas?: number;
  /** Run `src/main.ts` through tsx instead of the bundle: CPU profiles then name our source files. */
  fromSource?: boolean;
}): Promise<ServiceProcesses> {
  const replicas = options.replicas ?? 1;
  if (replicas > 1 && (options.ports.ledger !== 0 || options.ports.notifications !== 0)) {
    throw new Error("ledger and notifications replicas need port 0 (a free port each)");
  }
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
  const stop = () =>
    options.supervise ? Promise.all(processes.map((p) => (p as SupervisedService).stop())).then(() => undefined) : stopProcesses(processes);
  const start = async (name: GrpcService, replica = 0) => {
    const own = replica > 0 && name === "notifications" ? { LEDGER_ADDRESS: replicaAddress("ledger", replica) } : {};
    const entry = options.fromSource ? join(root, "services", name, "src", "main.ts") : undefined;
    const started = options.supervise
      ? await superviseService(name, { ...env, ...own }, { ...options.supervise, ...(options.onLine ? { onLine: options.onLine } : {}), ...(entry ? { entry } : {}) })
      : await spawnService(name, { ...env, ...own }, options, entry);
    processes.push(started);
    if (replica === 0) env[`${name.toUpperCase()}_ADDRESS`] = started.address;
  };
  const all = (name: GrpcService) => processes.filter((p) => p.name === name);
  const replicaAddress = (name: GrpcService, replica: number) => {
    const started = all(name);
    return started[replica % started.length]!.address;
  };
  // Wait for every start of a step to settle, so a sibling that is still
  // starting when another fails is stopped too, not orphaned.
  const step = async (names: GrpcService[], replica = 0) => {
    const results = await Promise.allSettled(names.map((name) => start(name, replica)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await stop();
      throw failed.reason;
    }
  };
  await step(["entitlements", "pricing"]);
  // Each replica after the first once the first listens (it runs the migrations), one step each.
  for (let replica = 0; replica < replicas; replica++) await step(["ledger"], replica);
  for (let replica = 0; replica < replicas; replica++) await step(["notifications"], replica);
  const by = (name: GrpcService) => processes.find((p) => p.name === name)!;
  const names: GrpcService[] = ["entitlements", "pricing", "ledger", "notifications"];
  return {
    processes,
    pids: Object.fromEntries(names.map((n) => [n, by(n).child.pid!])) as Record<GrpcService, number>,
    addresses: Object.fromEntries(names.map((n) => [n, by(n).address])) as Record<GrpcService, string>,
    replicas: Object.fromEntries(names.map((n) => [n, all(n)])) as Record<GrpcService, ServiceProcess[]>,
    metrics: Object.fromEntries(names.map((n) => [n, by(n).metrics ?? ""])) as Record<GrpcService, string>,
    stop,
  };
}
