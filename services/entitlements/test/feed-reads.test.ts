import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type MikroORM } from "@tollgate/db";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { AccountSchema } from "../src/data/account.entity.js";
import { PostgresEntitlementsStore } from "../src/data/entitlements-store.js";
import { migrations } from "../src/data/migrations/index.js";
import { PlanVersionSchema } from "../src/data/plan-version.entity.js";
import { SubjectSchema } from "../src/data/subject.entity.js";

let db: TestDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openDatabase({ url: db.url, schema: "entitlements", entities: [PlanVersionSchema, AccountSchema, SubjectSchema], migrations });
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

describe("the watch feeds' reads", () => {
  it("keep nothing in the request scope a WatchAccounts or WatchPlans stream reads in for as long as it is open", async () => {
    const em = orm.em.fork();
    const store = new PostgresEntitlementsStore(() => em);
    const plan = await store.appendPlan({ planId: "team", document: {}, publishedBy: "admin", publishedOnBehalfOf: null, reason: "launch" });
    for (const accountId of ["kept-1", "kept-2", "kept-3"]) {
      await store.insertAccount({
        accountId, name: accountId, planId: "team", planVersion: plan.version, seats: 1, deploymentMode: "cloud", billingMode: "credits",
        cycleAnchor: new Date("2026-12-01"), adminEmails: [], spendCapMicros: 0n, requestHash: "",
      });
    }
    em.clear();
    expect((await store.accountsAfter(0n, 100)).map((a) => a.accountId)).toEqual(["kept-1", "kept-2", "kept-3"]);
    expect((await store.plansAfter(0n, 100)).map((p) => p.planId)).toEqual(["team"]);
    expect(em.getUnitOfWork().getIdentityMap().values()).toHaveLength(0);
  });
});
