import { join } from "node:path";
import { call } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalogue } from "../scripts/catalogue.js";
import { demoCycleAnchor, demoHistory, HISTORY_DAYS, recordDemoUsage } from "../scripts/demo-usage.js";
import { startPlatform, type Platform } from "./platform.js";

const DAY = 86_400_000;
const catalogues = new URL("../catalogues/", import.meta.url).pathname;
let db: TestDatabase;
let platform: Platform;

beforeAll(async () => {
  db = await createTestDatabase();
  // As npm start runs the ledger: keys kept 32 days, so 30 days of history can be reported late.
  platform = await startPlatform(db.url, { idempotencyRetentionMs: 32 * DAY });
  // Cycles anchored as npm start anchors them.
  for (const file of ["support-agent-builder.yaml", "workspace-coding-agent.yaml"]) await loadCatalogue(join(catalogues, file), platform.clients, "demo", { cycleAnchor: demoCycleAnchor(new Date()) });
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("npm start's demo history", () => {
  it("seeds 30 days of attributed usage, once: a second start replays it", async () => {
    const { ledger } = platform.clients;
    const first = await recordDemoUsage(ledger);
    const expected = demoHistory(new Date()).length;
    // The cycle started 20 days ago: every day of the history is in it or the previous one, none skipped.
    expect(first).toEqual({ charged: expected, skipped: 0 });

    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const days = async (accountId: string) =>
        (await sql.query<{ days: number; charges: number }>(
          `select count(distinct date_trunc('day', coalesce(occurred_at, created_at)))::int as days, count(*)::int as charges
             from ledger.entries where account_id = $1 and kind = 'charge'`,
          [accountId],
        )).rows[0]!;
      for (const accountId of ["demo-support", "demo-workspace"]) {
        const seeded = await days(accountId);
        expect(seeded.days, accountId).toBeGreaterThanOrEqual(HISTORY_DAYS - 2);
        expect(seeded.days, accountId).toBeLessThanOrEqual(HISTORY_DAYS);
      }
      const before = await days("demo-support");
      // Idempotent on restart: the same requests replay, nothing is charged twice.
      const again = await recordDemoUsage(ledger);
      expect(again).toEqual(first);
      expect(await days("demo-support")).toEqual(before);
    } finally {
      await sql.end();
    }

    // The console's chart: every day of the last week has usage; the month's weeks too.
    const week = await call(ledger, ledger.getUsage, { accountId: "demo-support", window: ledgerV1.UsageWindow.USAGE_WINDOW_WEEK_DAILY, splitBy: "", unit: commonV1.Unit.UNIT_UNSPECIFIED });
    const yesterday = Math.floor(Date.now() / DAY) - 1;
    const weekDays = new Set(week.points.map((p) => Math.floor(p.start!.getTime() / DAY)));
    for (let d = yesterday - 5; d <= yesterday; d++) expect(weekDays.has(d), new Date(d * DAY).toISOString()).toBe(true);
    const month = await call(ledger, ledger.getUsage, { accountId: "demo-support", window: ledgerV1.UsageWindow.USAGE_WINDOW_MONTH_WEEKLY, splitBy: "", unit: commonV1.Unit.UNIT_UNSPECIFIED });
    expect(month.points.length).toBeGreaterThanOrEqual(4);

    // Its top tables: usage split by every attribution dimension the console shows.
    for (const [dimension, keys] of [
      ["user_id", ["ana", "ben", "chen", "dara"]],
      ["workspace_id", ["ws-platform", "ws-sales", "ws-support"]],
      ["workspace_group_id", ["group-cx", "group-eng", "group-revenue"]],
      ["agent_id", ["ops-agent", "outreach-agent", "triage-agent"]],
      ["tool", ["crm-search", "kb-search", "log-search", "ticket-lookup"]],
      ["model", ["claude-haiku-4.5", "claude-sonnet-4.6", "gpt-4o", "gpt-4o-mini"]],
      ["surface", ["cli", "web"]],
    ] as const) {
      const usage = await call(ledger, ledger.getUsage, { accountId: "demo-support", window: ledgerV1.UsageWindow.USAGE_WINDOW_MONTH_WEEKLY, splitBy: dimension, unit: commonV1.Unit.UNIT_UNSPECIFIED });
      expect([...new Set(usage.points.map((p) => p.key))].sort(), dimension).toEqual(keys);
    }

    // 360 credits of history on the Hobby plan's 2,000 (npm run demo's 1,640), about two thirds of them used in this cycle.
    const balance = await call(ledger, ledger.getBalance, { accountId: "demo-support" });
    const credits = balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!;
    expect(credits.availableMicros).toBe(String(1_640_000_000));
    expect(BigInt(credits.usedMicros)).toBeGreaterThan(200_000_000n);
    expect(BigInt(credits.usedMicros)).toBeLessThan(360_000_000n);

    // npm start again on a later day (DATABASE_URL kept): today's anchor differs, the accounts are kept as they are.
    const tomorrow = new Date(Date.now() + DAY);
    for (const file of ["support-agent-builder.yaml", "workspace-coding-agent.yaml"]) await loadCatalogue(join(catalogues, file), platform.clients, "demo", { cycleAnchor: demoCycleAnchor(tomorrow) });
    const { account } = await call(platform.clients.entitlements, platform.clients.entitlements.getAccount, { accountId: "demo-support" });
    expect(account!.cycleAnchor).toEqual(demoCycleAnchor(new Date()));
  });
});
