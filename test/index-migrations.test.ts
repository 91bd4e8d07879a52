// A migration that adds an index keeps one an operator built beforehand without blocking writes
// (`create index concurrently`, docs/operations.md), builds again one such a build left invalid, and
// refuses one of another shape: run through the migrations themselves on PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { CallAuditLog, openDatabase, type MikroORM } from "@tollgate/db";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { ledgerEntities } from "../services/ledger/src/data/entities.js";
import { migrations } from "../services/ledger/src/data/migrations/index.js";
import { Migration20261224100000_entries_recorded } from "../services/ledger/src/data/migrations/Migration20261224100000_entries_recorded.js";
import { Migration20261224200000_audit_actor } from "../services/gateway/src/data/migrations/Migration20261224200000_audit_actor.js";
import { AuditEntrySchema } from "../services/gateway/src/data/audit.entity.js";
import { migrations as gatewayMigrations } from "../services/gateway/src/data/migrations/index.js";
import { Migration20261224200000_call_audit_filters } from "../packages/db/src/call-audit/Migration20261224200000_call_audit_filters.js";

let db: TestDatabase;
let orm: MikroORM;
let client: pg.Client;

/** Runs a migration's `up()` again, as a database whose index was built beforehand meets it. */
async function runAgain(migration: new (...args: any[]) => { up(): void | Promise<void>; getQueries(): unknown[] }): Promise<void> {
  const instance = new migration(orm.em.getDriver(), orm.config);
  await instance.up();
  for (const query of instance.getQueries()) await client.query(String(query));
}

const definition = async (schema: string, name: string) =>
  (await client.query<{ def: string; valid: boolean }>(
    `select pg_get_indexdef(x.indexrelid) as def, x.indisvalid as valid from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace where n.nspname = $1 and i.relname = $2`,
    [schema, name],
  )).rows[0];

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openDatabase({ url: db.url, schema: "ledger", entities: ledgerEntities, migrations });
  await (await openDatabase({ url: db.url, schema: "gateway", entities: [AuditEntrySchema], migrations: gatewayMigrations, poolMax: 1 })).close();
  await (await CallAuditLog.open(db.url)).close();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await orm?.close();
  await db?.drop();
});

describe("a migration's index built beforehand", () => {
  it("is kept when valid and of the migration's definition", async () => {
    const before = await definition("ledger", "entries_recorded_idx");
    expect(before).toEqual({ def: "CREATE INDEX entries_recorded_idx ON ledger.entries USING btree (account_id, created_at DESC, entry_id DESC)", valid: true });
    await runAgain(Migration20261224100000_entries_recorded);
    await runAgain(Migration20261224200000_audit_actor);
    // Each definition is written as PostgreSQL prints it: run again over the indexes the first run built, none is refused.
    await runAgain(Migration20261224200000_call_audit_filters);
    expect(await definition("ledger", "entries_recorded_idx")).toEqual(before);
  });

  it("stops the migration when a concurrent build is still running or left it invalid, and leaves the index to the operator", async () => {
    await client.query(`update pg_index set indisvalid = false where indexrelid = 'ledger.entries_recorded_idx'::regclass`);
    await expect(runAgain(Migration20261224100000_entries_recorded)).rejects.toThrow(/index ledger\.entries_recorded_idx is invalid .*build it again with create index concurrently/);
    expect((await definition("ledger", "entries_recorded_idx"))?.valid).toBe(false); // not dropped: a build may still be running
    await client.query(`update pg_index set indisvalid = true where indexrelid = 'ledger.entries_recorded_idx'::regclass`);
  });

  it("fails the migration, naming both definitions, when it has another shape", async () => {
    await client.query(`drop index ledger.entries_recorded_idx`);
    await client.query(`create index entries_recorded_idx on ledger.entries (account_id, created_at)`);
    await expect(runAgain(Migration20261224100000_entries_recorded)).rejects.toThrow(
      /index ledger\.entries_recorded_idx exists as "CREATE INDEX entries_recorded_idx ON ledger\.entries USING btree \(account_id, created_at\)"; this release needs "CREATE INDEX entries_recorded_idx ON ledger\.entries USING btree \(account_id, created_at DESC, entry_id DESC\)"/,
    );
  });
});
