import pg from "pg";

export { errorDetails } from "@tollgate/grpc-kit";

/** The server tests create their databases on (set up by global-setup). */
export function adminUrl(): string {
  const url = process.env.TOLLGATE_TEST_ADMIN_URL;
  if (!url) throw new Error("TOLLGATE_TEST_ADMIN_URL is not set: run tests through vitest's global setup");
  return url;
}

let counter = 0;

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * Creates a fresh, empty database for one test file in this worker. Services
 * started on it run their real migrations.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = new URL(adminUrl());
  const name = `tollgate_t${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`create database "${name}" template template0`);
  } finally {
    await client.end();
  }
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const dropper = new pg.Client({ connectionString: admin.toString() });
      await dropper.connect();
      try {
        await dropper.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
