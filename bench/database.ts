import pg from "pg";
import { ensurePostgres } from "@tollgate/postgres";

/** A database of a bench's own on the server `ensurePostgres` finds, and queries on that server's maintenance connection. */
export interface BenchDatabase {
  /** The new database's URL. */
  url: string;
  name: string;
  /** The server's `server_version`. */
  version: string;
  /** One query on the server's maintenance connection (for statistics of the whole server). */
  admin<Row extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>;
  /** Drops the database (closing what is still connected to it) and stops an embedded server. */
  drop(): Promise<void>;
}

/**
 * Creates `<prefix>_<time>` on DATABASE_URL's server, else the local one on
 * 5432, else an embedded one, so a bench never measures or changes another
 * database's rows.
 */
export async function benchDatabase(prefix: string, log: (line: string) => void): Promise<BenchDatabase> {
  const server = await ensurePostgres({ tryLocal: true, log });
  const admin = async <Row extends object>(text: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      return (await client.query<Row>(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  const name = `${prefix}_${Date.now().toString(36)}`;
  await admin(`create database ${name}`);
  const [{ server_version: version }] = (await admin<{ server_version: string }>("show server_version")) as [{ server_version: string }];
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(), name, version, admin,
    drop: async () => {
      await admin(`drop database if exists ${name} with (force)`);
      await server.stop();
    },
  };
}
