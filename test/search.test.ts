import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { SEARCH_SQL, searchParameters } from "../services/ledger/src/data/search.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
let holdId: string;
let entryId: string;

const attribution = commonV1.Attribution.fromPartial({ conversationId: "conv-ticket-42", taskId: "task-7" });
const search = (query: string) => call(platform.clients.ledger, platform.clients.ledger.search, { query, limit: 0 });
const found = (response: ledgerV1.SearchResponse) =>
  response.hits.map((hit) => [ledgerV1.searchMatchToJSON(hit.match), hit.accountId, hit.target?.$case]);

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "acme");
  const { ledger, pricing, entitlements } = platform.clients;
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "globex", name: "Globex", planId: "starter", seats: 1 }));
  await call(pricing, pricing.publishRateTable, {
    tableId: "default", effectiveFrom: new Date(Date.now() - 30_000), actor: "test", reason: "runs", idempotencyKey: "",
    rates: [
      { bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(5 * CREDIT) } } },
      { bucket: commonV1.Bucket.BUCKET_COMPUTE, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "activeMinute", activeMinute: { microsPerMinute: String(CREDIT) } } },
    ],
  });
  const hold = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({
    accountId: "acme", estimate: replies("gpt-4o", 1), attribution, idempotencyKey: "ticket-authorize", ttlMs: "600000",
  }));
  holdId = hold.holdId;
  const charge = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
    accountId: "acme", holdId, usage: replies("gpt-4o", 1), attribution, final: true, idempotencyKey: "ticket-charge",
  }));
  entryId = charge.entryId;
  // Another account's reply in another conversation must not show up.
  await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
    accountId: "globex", usage: replies("gpt-4o", 1), attribution: { conversationId: "conv-other" }, final: true, idempotencyKey: "other-charge",
  }));
  await call(ledger, ledger.startRun, ledgerV1.StartRunRequest.fromPartial({ accountId: "globex", runId: "run-ticket-9", idempotencyKey: "run-start" }));
  // The trace id a traced call records on its entry.
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`update ledger.entries set trace_id = '4bf92f3577b34da6a3ce929d0e0e4736' where entry_id = $1`, [entryId]);
  await client.end();
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("LedgerService.Search across accounts", () => {
  it("finds a hold by its id and an entry by its id, with the rate table that priced them", async () => {
    const byHold = await search(holdId);
    expect(found(byHold)).toEqual([["SEARCH_MATCH_HOLD_ID", "acme", "hold"]]);
    const hold = byHold.hits[0]!.target;
    expect(hold?.$case === "hold" && [hold.hold.rateTableId, hold.hold.rateTableVersion]).toEqual(["default", "2"]);
    const byEntry = await search(entryId);
    expect(found(byEntry)).toEqual([["SEARCH_MATCH_ENTRY_ID", "acme", "entry"]]);
    const entry = byEntry.hits[0]!.target;
    expect(entry?.$case === "entry" && entry.entry.lines.length).toBeGreaterThan(0);
  });

  it("follows an idempotency key to what its call made (the authorization's hold, the charge's entry), else names its account and call", async () => {
    expect(found(await search("ticket-authorize"))).toEqual([["SEARCH_MATCH_IDEMPOTENCY_KEY", "acme", "hold"]]);
    expect(found(await search("ticket-charge"))).toEqual([["SEARCH_MATCH_IDEMPOTENCY_KEY", "acme", "entry"]]);
    const run = await search("run-start");
    expect(found(run)).toEqual([["SEARCH_MATCH_IDEMPOTENCY_KEY", "globex", undefined]]);
    expect(run.hits[0]?.operation).toBe("start_run");
  });

  it("finds entries by trace id, conversation and task, and runs by their id, each on its own account", async () => {
    expect(found(await search("4bf92f3577b34da6a3ce929d0e0e4736"))).toEqual([["SEARCH_MATCH_TRACE_ID", "acme", "entry"]]);
    expect(found(await search("conv-ticket-42"))).toEqual([["SEARCH_MATCH_CONVERSATION_ID", "acme", "entry"]]);
    expect(found(await search("task-7"))).toEqual([["SEARCH_MATCH_TASK_ID", "acme", "entry"]]);
    expect(found(await search("conv-other"))).toEqual([["SEARCH_MATCH_CONVERSATION_ID", "globex", "entry"]]);
    expect(found(await search("run-ticket-9"))).toEqual([["SEARCH_MATCH_WORK_ID", "globex", "work"]]);
  });

  it("finds a run id that two accounts both use once on each, with that account's run", async () => {
    const { ledger } = platform.clients;
    await call(ledger, ledger.startRun, ledgerV1.StartRunRequest.fromPartial({ accountId: "acme", runId: "run-shared", idempotencyKey: "shared-acme" }));
    await call(ledger, ledger.startRun, ledgerV1.StartRunRequest.fromPartial({ accountId: "globex", runId: "run-shared", idempotencyKey: "shared-globex" }));
    const hits = (await search("run-shared")).hits.filter((hit) => hit.match === ledgerV1.SearchMatch.SEARCH_MATCH_WORK_ID);
    const runs = hits.map((hit) => (hit.target?.$case === "work" ? [hit.accountId, hit.target.work.accountId, hit.target.work.workId, hit.target.work.kind] : [hit.accountId]));
    expect(runs.sort()).toEqual([["acme", "acme", "run-shared", "run"], ["globex", "globex", "run-shared", "run"]]);
  });

  it("answers no hits for an unknown id and INVALID_ARGUMENT naming an empty query", async () => {
    expect((await search("nothing-like-this")).hits).toEqual([]);
    expect((await search("00000000-0000-4000-8000-000000000000")).hits).toEqual([]);
    const error = await search("  ").catch((e: unknown) => e);
    expect(errorDetails(error)).toMatchObject({ code: 3, fieldViolations: [{ field: "query" }] });
  });

  it("reads an index for every kind of match (the plan names no sequential scan of entries, holds or keys)", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // The tables here are tiny, where a sequential scan is cheapest; forbid it to see that an index serves each branch.
      await client.query("set enable_seqscan = off");
      for (const query of ["conv-ticket-42", "4bf92f3577b34da6a3ce929d0e0e4736", "ticket-charge", holdId, entryId]) {
        let n = 0;
        const statement = SEARCH_SQL.replace(/\?/g, () => `$${++n}`);
        const { rows } = await client.query(`explain ${statement}`, searchParameters(query, 20));
        const plan = rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n");
        expect(plan, plan).not.toMatch(/Seq Scan/);
      }
    } finally {
      await client.end();
    }
  });
});
