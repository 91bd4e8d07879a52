// Every key of the migrated ledger schema carries account_id, so PostgreSQL
// sharded by account (Citus) could hold it: read from pg_catalog, not from
// the migrations' text. docs/scaling.md names the exceptions and why. And
// the schema keeps no code of the PL/pgSQL ledger earlier releases ran.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { openDatabase } from "@tollgate/db";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { ledgerEntities } from "./entities.js";
import { migrations } from "./migrations/index.js";

/** Keys without account_id by design: one row or one sequence for the whole ledger, or the migrator's own bookkeeping. */
const EXEMPT_BY_DESIGN = new Map([
  ["outbox.outbox_pkey", "the outbox's global order: every event has one place in one sequence consumers follow"],
  ["outbox.outbox_sequence_key", "the outbox's global order"],
  ["outbox_consumers.outbox_consumers_pkey", "a consumer's position in that global order"],
  ["outbox_retention.outbox_retention_pkey", "one row: how far the global order was pruned"],
  ["migration_checksums.migration_checksums_pkey", "the migrator's bookkeeping"],
  ["mikro_orm_migrations.mikro_orm_migrations_pkey", "the migrator's bookkeeping"],
]);

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  await (await openDatabase({ url: db.url, schema: "ledger", entities: ledgerEntities, migrations, poolMax: 1 })).close();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe("the migrated ledger schema's keys", () => {
  it("carry account_id in every primary key, unique constraint and unique index, but for the named exceptions", async () => {
    // Unique indexes include those behind primary keys and unique constraints (and partial unique indexes).
    const { rows } = await client.query<{ key: string; has_account: boolean }>(
      `select c.relname || '.' || i.relname as key,
              exists (select 1 from unnest(x.indkey) k join pg_attribute a on a.attrelid = c.oid and a.attnum = k where a.attname = 'account_id') as has_account
         from pg_index x
         join pg_class i on i.oid = x.indexrelid
         join pg_class c on c.oid = x.indrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'ledger' and x.indisunique
        order by 1`,
    );
    expect(rows.length).toBeGreaterThan(10);
    const without = rows.filter((r) => !r.has_account).map((r) => r.key);
    expect(without).toEqual([...EXEMPT_BY_DESIGN.keys()].sort());
    expect(rows.map((r) => r.key)).toEqual(expect.arrayContaining([
      "entries.entries_pkey", "lines.lines_pkey", "balances.balances_pkey", "idempotency_keys.idempotency_keys_pkey", "holds.holds_pkey", "pools.pools_pkey", "metered_work.metered_work_pkey",
    ]));
    expect(rows.find((r) => r.key === "pools.pools_grant_key_key")).toBeDefined(); // now (account_id, grant_key): Migration20261216100000_drop_sql_ledger
  });

  it("names each foreign key between account tables by the account too", async () => {
    const { rows } = await client.query<{ key: string; columns: string[] }>(
      `select c.relname || '.' || f.conname as key, array(select a.attname::text from unnest(f.conkey) with ordinality k(attnum, n) join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum order by k.n) as columns
         from pg_constraint f join pg_class c on c.oid = f.conrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'ledger' and f.contype = 'f' order by 1`,
    );
    const without = rows.filter((r) => !r.columns.includes("account_id")).map((r) => r.key);
    expect(without).toEqual([]);
    expect(rows.find((r) => r.key === "lines.lines_entry_fkey")?.columns).toEqual(["account_id", "entry_id"]);
    expect(rows.find((r) => r.key === "lines.lines_pool_fkey")?.columns).toEqual(["account_id", "pool_id"]);
    expect(rows.find((r) => r.key === "entries.entries_hold_fkey")?.columns).toEqual(["account_id", "hold_id"]);
  });
});

describe("the migrated ledger schema's code", () => {
  it("holds no PL/pgSQL ledger: the event feed's sequence and the hard budgets' signal are its only functions and triggers", async () => {
    const functions = await client.query(`select proname from pg_proc where pronamespace = 'ledger'::regnamespace order by 1`);
    expect(functions.rows.map((r) => r.proname)).toEqual(["notify_budget_exhausted", "sequence_outbox"]);
    const triggers = await client.query(
      `select c.relname || '.' || t.tgname as name from pg_trigger t join pg_class c on c.oid = t.tgrelid
        where c.relnamespace = 'ledger'::regnamespace and not t.tgisinternal order by 1`,
    );
    expect(triggers.rows.map((r) => r.name)).toEqual(["budgets.budgets_exhausted"]);
  });
});
