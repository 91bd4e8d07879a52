import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type MikroORM } from "@tollgate/db";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { migrations } from "../src/data/migrations/index.js";
import { PostgresRateTableStore } from "../src/data/rate-table-store.js";
import { RateTableVersionSchema } from "../src/data/rate-table-version.entity.js";

let db: TestDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openDatabase({ url: db.url, schema: "pricing", entities: [RateTableVersionSchema], migrations });
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

describe("the rate feed's reads", () => {
  it("keep nothing in the request scope a WatchRateTables stream reads in for as long as it is open", async () => {
    const em = orm.em.fork();
    const store = new PostgresRateTableStore(() => em);
    for (const tableId of ["default", "gpu"]) {
      await store.append({ tableId, effectiveFrom: new Date(), publishedBy: "admin", publishedOnBehalfOf: null, reason: "launch", rates: [] });
    }
    em.clear();
    expect((await store.after(0n, 100)).map((t) => t.tableId)).toEqual(["default", "gpu"]);
    expect(em.getUnitOfWork().getIdentityMap().values()).toHaveLength(0);
  });
});
