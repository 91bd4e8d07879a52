import { ensurePostgres } from "@tollgate/postgres";

/**
 * Finds the Postgres the tests create their databases on: DATABASE_URL if set,
 * else a server on 127.0.0.1:5432, else an embedded one started for this run.
 */
export default async function setup() {
  const postgres = await ensurePostgres({ tryLocal: true, log: (line) => console.log(`[tests] ${line}`) });
  process.env.TOLLGATE_TEST_ADMIN_URL = postgres.url;
  return async () => {
    await postgres.stop();
  };
}
