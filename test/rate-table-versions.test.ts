import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, sql } from "@tollgate/db";
import { call } from "@tollgate/grpc-kit";
import { commonV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { ledgerEntities } from "../services/ledger/src/data/entities.js";
import { migrations as ledgerMigrations } from "../services/ledger/src/data/migrations/index.js";
import { RateTableVersionSchema } from "../services/pricing/src/data/rate-table-version.entity.js";
import { migrations as pricingMigrations } from "../services/pricing/src/data/migrations/index.js";
import { startPlatform, type Platform } from "./platform.js";

/**
 * Upgrade: a database built by the migrations before rate table versions were
 * numbered per table (one global counter), with history in pricing and the
 * ledger, brought up to date by starting today's services on it.
 */
const before = (migrations: { name: string }[], first: string) => migrations.slice(0, migrations.findIndex((m) => m.name.startsWith(first)));

const replyRate = (model: string, credits: number): pricingV1.Rate => ({
  bucket: commonV1.Bucket.BUCKET_AI,
  unit: commonV1.Unit.UNIT_CREDITS,
  kind: { $case: "modelReply", modelReply: { model, microsPerReply: String(credits * 1_000_000) } },
});
/** As pricing stores rates (its domain form, amounts as decimal strings). */
const ratesJson = (model: string, credits: number) =>
  JSON.stringify([{ kind: "model_reply", bucket: "ai", unit: "credits", model, microsPerReply: String(credits * 1_000_000) }]);

let db: TestDatabase;
let platform: Platform;

beforeAll(async () => {
  db = await createTestDatabase();
  const pricing = await openDatabase({
    url: db.url,
    schema: "pricing",
    entities: [RateTableVersionSchema],
    migrations: before(pricingMigrations, "Migration20261130600000") as typeof pricingMigrations,
  });
  // Global numbers 1..5, interleaved: "alpha" got 1, 3, 5 and "beta" 2, 4.
  for (const [table, credits] of [["alpha", 1], ["beta", 10], ["alpha", 2], ["beta", 20], ["alpha", 3]] as const) {
    await sql(pricing.em.fork(), `insert into pricing.rate_table_versions (table_id, effective_from, published_by, rates) values (?, ?, 'seed', ?::jsonb)`, [
      table, new Date(Date.UTC(2026, 0, credits)), ratesJson("gpt-4o", credits),
    ]);
  }
  await pricing.close();

  const ledger = await openDatabase({
    url: db.url,
    schema: "ledger",
    entities: ledgerEntities,
    migrations: before(ledgerMigrations, "Migration20261130600000") as typeof ledgerMigrations,
  });
  const em = ledger.em.fork();
  await sql(em, `insert into ledger.accounts (account_id, plan_id, plan_version, cycle_start, cycle_end) values ('acme', 'p', 1, now(), now() + interval '30 days')`);
  // The hold was priced by global version 3 (alpha's second), its charge by 4 (beta's second); the grant by none.
  await sql(em, `insert into ledger.holds (hold_id, account_id, unit, bucket, amount_micros, status, expires_at, rate_table_version)
    values ('00000000-0000-4000-8000-000000000001', 'acme', 'credits', 'ai', 5, 'open', now() + interval '1 hour', 3)`);
  await sql(em, `insert into ledger.entries (account_id, kind, hold_id, unit, bucket, amount_micros, rate_table_version)
    values ('acme', 'charge', '00000000-0000-4000-8000-000000000001', 'credits', 'ai', 5, 4), ('acme', 'grant', null, 'credits', '', 100, 0)`);
  await ledger.close();

  platform = await startPlatform(db.url);
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("rate table versions numbered per table, after an upgrade", () => {
  it("renumbers each table's versions from 1 in publication order, keeping rates and the global order as the sequence", async () => {
    const { pricing } = platform.clients;
    const alpha = await call(pricing, pricing.listRateTableVersions, { tableId: "alpha", page: { pageSize: 10, pageToken: "" } });
    expect(alpha.tables.map((t) => [t.version, t.sequence])).toEqual([["1", "1"], ["2", "3"], ["3", "5"]]);
    const beta = await call(pricing, pricing.listRateTableVersions, { tableId: "beta", page: { pageSize: 10, pageToken: "" } });
    expect(beta.tables.map((t) => [t.version, t.sequence])).toEqual([["1", "2"], ["2", "4"]]);

    const alpha2 = await call(pricing, pricing.getRateTable, { tableId: "alpha", version: "2", at: undefined, sequence: "0" });
    expect(alpha2.table?.rates).toEqual([replyRate("gpt-4o", 2)]);
    const bySequence = await call(pricing, pricing.getRateTable, { tableId: "", version: "0", at: undefined, sequence: "4" });
    expect([bySequence.table?.tableId, bySequence.table?.version]).toEqual(["beta", "2"]);
    const diff = await call(pricing, pricing.diffRateTables, { tableId: "beta", fromVersion: "1", toVersion: "2" });
    expect(diff.changes.map((c) => c.key)).toEqual(["model:gpt-4o"]);
  });

  it("shows the ledger's holds and entries with the table and per-table version that priced them", async () => {
    const { ledger } = platform.clients;
    const { hold } = await call(ledger, ledger.getHold, { holdId: "00000000-0000-4000-8000-000000000001" });
    expect([hold?.rateTableId, hold?.rateTableVersion]).toEqual(["alpha", "2"]);
    const { entries } = await call(ledger, ledger.listEntries, { accountId: "acme", holdId: "", kind: 0, attribution: {}, recordedFrom: undefined, recordedBefore: undefined, page: { pageSize: 10, pageToken: "" } });
    expect(entries.map((e) => [e.amountMicros, e.rateTableId, e.rateTableVersion])).toEqual([["100", "", "0"], ["5", "beta", "2"]]);
  });

  it("numbers a new version after the table's last, and a watcher that kept a global version as its cursor still resumes there", async () => {
    const { pricing } = platform.clients;
    const published = await call(pricing, pricing.publishRateTable, {
      tableId: "beta", rates: [replyRate("gpt-4o", 30)], actor: "test", reason: "", idempotencyKey: "", effectiveFrom: undefined,
    });
    expect([published.table?.version, published.table?.sequence]).toEqual(["3", "6"]);
    const fresh = await call(pricing, pricing.publishRateTable, {
      tableId: "gamma", rates: [replyRate("gpt-4o", 1)], actor: "test", reason: "", idempotencyKey: "", effectiveFrom: undefined,
    });
    expect(fresh.table?.version).toBe("1");

    const stream = pricing.watchRateTables({ afterVersion: "4", afterSequence: "0" });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (message: pricingV1.WatchRateTablesResponse) => {
        if (!message.table) return; // a heartbeat
        seen.push(`${message.table.tableId}@${message.table.version}`);
        if (seen.length === 3) resolve();
      });
      stream.on("error", reject);
    });
    stream.cancel();
    expect(seen).toEqual(["alpha@3", "beta@3", "gamma@1"]);
  });
});
