import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { PreparedStatements } from "./prepared-statements.js";
import { prepared } from "./sql-literals.js";

let db: TestDatabase;
let client: pg.Client;
let other: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  other = new pg.Client({ connectionString: db.url });
  await Promise.all([client.connect(), other.connect()]);
});
afterAll(async () => {
  await Promise.all([client?.end(), other?.end()]);
  await db?.drop();
});

const preparedCount = async (c: pg.Client) => Number((await c.query("select count(*) from pg_prepared_statements")).rows[0].count);

describe("prepared statements", () => {
  it("prepares a text once per connection and answers each statement in order, the prepares left out", async () => {
    const statements = new PreparedStatements();
    const sum = "select sum(x)::text as total from unnest($1::bigint[]) as x";
    const first = await statements.send(client, ["begin", prepared(sum, [[1, 2, 3]]), prepared(sum, [[10]]), "commit"]);
    expect(first).toEqual([[], [{ total: "6" }], [{ total: "10" }], []]);
    expect(await preparedCount(client)).toBe(1);
    expect(await statements.send(client, [prepared(sum, [["4", null, "5"]])])).toEqual([[{ total: "9" }]]);
    expect(await preparedCount(client)).toBe(1);
    // Another connection prepares it for itself.
    expect(await statements.send(other, [prepared(sum, [[7]])])).toEqual([[{ total: "7" }]]);
    expect(await preparedCount(other)).toBe(1);
  });

  it("writes values in as literals: quotes and backslashes come back as they were", async () => {
    const statements = new PreparedStatements();
    const nasty = `it's "quoted" \\ {1,2} NULL $1`;
    expect(await statements.send(client, [prepared("select $1::text as v, $2::text[] as a", [nasty, [nasty, null]])])).toEqual([[{ v: nasty, a: [nasty, null] }]]);

    // Each character the escaping treats specially, alone, and values that look like SQL or array syntax.
    const texts = ["plain", "only'quote", "only\\backslash", 'only"double', "NULL", "{a,b}", "", " padded "];
    const read = "select $1::text[] as t, $2::bigint[] as b, $3::jsonb as j, $4::text as one, $5::text as other";
    const json = { note: `it's "x" \\ y` };
    expect(await statements.send(client, [prepared(read, [texts, [-5, 9_007_199_254_740_993n, null], json, "only'quote", "plain"])])).toEqual([
      [{ t: texts, b: ["-5", "9007199254740993", null], j: json, one: "only'quote", other: "plain" }],
    ]);
  });

  it("says a connection must be discarded when a message that prepared fails, not when one that only executed does", async () => {
    const statements = new PreparedStatements();
    const divide = "select 1 / $1::int as q";
    await expect(statements.send(client, [prepared(divide, [0])])).rejects.toThrow(/division by zero/);
    expect(statements.mustDiscard(client)).toBe(true);

    const fresh = new PreparedStatements();
    await fresh.send(other, [prepared(divide, [1])]);
    await expect(fresh.send(other, [prepared(divide, [0])])).rejects.toThrow(/division by zero/);
    expect(fresh.mustDiscard(other)).toBe(false);
  });

  it("runs texts unprepared past 64 on one connection, so a text that is not constant cannot fill it", async () => {
    const statements = new PreparedStatements();
    const conn = new pg.Client({ connectionString: db.url });
    await conn.connect();
    try {
      for (let i = 0; i < 70; i++) expect(await statements.send(conn, [prepared(`select $1::int + ${i} as n`, [1])])).toEqual([[{ n: 1 + i }]]);
      expect(await preparedCount(conn)).toBe(64);
    } finally {
      await conn.end();
    }
  });
});
