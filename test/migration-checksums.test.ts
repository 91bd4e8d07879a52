import { afterAll, beforeAll, expect, it } from "vitest";
import pg from "pg";
import { defineEntity, p } from "@mikro-orm/core";
import { Migration, openDatabase } from "@tollgate/db";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";

class Migration20990101000000_first extends Migration {
  override name = "Migration20990101000000_first";
  override up(): void {
    this.addSql(`create table checked.things (id int primary key)`);
  }
}
/** The same migration, edited after it was applied. */
class Migration20990101000000_first_edited extends Migration {
  override name = "Migration20990101000000_first";
  override up(): void {
    this.addSql(`create table checked.things (id int primary key, label text)`);
  }
}
class Migration20990101000001_second extends Migration {
  override name = "Migration20990101000001_second";
  override up(): void {
    this.addSql(`alter table checked.things add column note text`);
  }
}

const ThingSchema = defineEntity({ name: "Thing", tableName: "things", properties: { id: p.integer().primary() } });

let db: TestDatabase;
let client: pg.Client;
const open = async (migrations: (new (...args: any[]) => Migration)[]) => (await openDatabase({ url: db.url, schema: "checked", entities: [ThingSchema], migrations, poolMax: 1 })).close();
const recorded = async () => (await client.query(`select name, checksum from checked.migration_checksums order by name`)).rows as { name: string; checksum: string }[];

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

it("records each applied migration's checksum, and refuses to start when an applied migration's code changed", async () => {
  await open([Migration20990101000000_first]);
  const first = await recorded();
  expect(first.map((r) => r.name)).toEqual(["Migration20990101000000_first"]);
  expect(first[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);

  await expect(open([Migration20990101000000_first_edited, Migration20990101000001_second])).rejects.toThrow(
    /schema "checked": an applied migration differs from the code: Migration20990101000000_first \(applied with checksum [0-9a-f]{12}…, the code now gives [0-9a-f]{12}…\)\. A landed migration is never edited/,
  );
  // Nothing ran: the second migration is still pending.
  expect((await client.query(`select name from checked.mikro_orm_migrations`)).rows.map((r) => r.name)).toEqual(["Migration20990101000000_first"]);

  // The unchanged code starts, applies the new migration and records it beside the first.
  await open([Migration20990101000000_first, Migration20990101000001_second]);
  const both = await recorded();
  expect(both.map((r) => r.name)).toEqual(["Migration20990101000000_first", "Migration20990101000001_second"]);
  expect(both[0]).toEqual(first[0]);
});

it("records, on the first start with checksums, the migrations applied before they were kept", async () => {
  await client.query(`drop table checked.migration_checksums`);
  await open([Migration20990101000000_first, Migration20990101000001_second]);
  expect((await recorded()).map((r) => r.name)).toEqual(["Migration20990101000000_first", "Migration20990101000001_second"]);
  await expect(open([Migration20990101000000_first_edited, Migration20990101000001_second])).rejects.toThrow(/Migration20990101000000_first/);
});
