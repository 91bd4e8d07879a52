/**
 * The cost receipt (opened from the ledger explorer, an account's ledger tab
 * and search) and the members' and tools' usage views, in real headless
 * Chromium against the real gateway and services with authentication on.
 * Every number on screen is checked against what the ledger answers over
 * gRPC. Screenshots go to test-results/screenshots/.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { registerTelemetry } from "@tollgate/telemetry";

// Tracing on, so a charge carries a trace that ties it to the notifications it caused. Before gRPC and pg load.
registerTelemetry({ serviceName: "tollgate-test", spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })] });

const { afterAll, beforeAll, describe, expect, it } = await import("vitest");
const { trace } = await import("@opentelemetry/api");
const { call } = await import("@tollgate/grpc-kit");
const { entitlementsV1, ledgerV1 } = await import("@tollgate/proto");
const { createTestDatabase, eventually } = await import("@tollgate/testing");
const { formatAmount } = await import("../admin/src/money.js");
const { replies } = await import("./fixtures.js");
const { screenshotDir, signInPage, startConsole } = await import("./browser.js");
const { startPlatform } = await import("./platform.js");
const { blockRuns, seedTeam, toolRuns } = await import("./team-fixtures.js");

type Page = import("playwright-core").Page;

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let platform: Awaited<ReturnType<typeof startPlatform>>;
let gateway: import("@tollgate/gateway").Gateway;
let ui: import("./browser.js").ConsoleUnderTest;
let browser: import("playwright-core").Browser;
let holdId: string;
let entryId: string;
let toolEntryId: string;

const ledger = () => platform.clients.ledger;
const receiptOf = async (target: { entryId?: string; holdId?: string }) =>
  (await call(ledger(), ledger().getReceipt, { entryId: target.entryId ?? "0", holdId: target.holdId ?? "" })).receipt!;
const unitOf = (unit: number) => ledgerV1.Hold.toJSON({ ...ledgerV1.Hold.fromPartial({}), unit }) as { unit?: string };
const unitName = (unit: number) => (unitOf(unit).unit ?? "").slice("UNIT_".length).toLowerCase();

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedTeam(platform, "team-co");
  const L = ledger();
  // Ana's agent: 12 replies held, 11 charged (55 of 100 credits: the 50 % threshold), one trace.
  await trace.getTracer("test").startActiveSpan("agent reply", async (span) => {
    const hold = await call(L, L.authorize, ledgerV1.AuthorizeRequest.fromPartial({
      accountId: "team-co", estimate: replies("gpt-4o", 12), attribution: { userId: "ana", conversationId: "conv-browser-1" }, idempotencyKey: "b-authorize", ttlMs: "600000",
    }));
    holdId = hold.holdId;
    entryId = (await call(L, L.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "team-co", holdId, usage: replies("gpt-4o", 11), attribution: { userId: "ana", conversationId: "conv-browser-1" }, final: true, idempotencyKey: "b-charge",
    }))).entryId;
    span.end();
  });
  // Compute and platform credits per member, and tool runs.
  for (const [user, block, runs] of [["ana", "sandbox", 3], ["bob", "orchestrate", 6], ["bob", "sandbox", 2]] as const) {
    await call(L, L.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "team-co", usage: blockRuns(block, runs), attribution: { userId: user }, final: true, idempotencyKey: `b-${user}-${block}` }));
  }
  const S = ledgerV1.ToolStatus;
  for (const [tool, owner, status] of [["web-search", "ana", S.TOOL_STATUS_DEPLOYED], ["pdf-reader", "bob", S.TOOL_STATUS_DEPLOYED], ["pdf-reader", "bob", S.TOOL_STATUS_UNDEPLOYED], ["draft-tool", "bob", S.TOOL_STATUS_DEVELOPMENT]] as const) {
    await call(L, L.setTool, { accountId: "team-co", tool, owner, status });
  }
  for (const [tool, key] of [["web-search", "b-tool-1"], ["web-search", "b-tool-2"], ["pdf-reader", "b-tool-3"], ["draft-tool", "b-tool-4"]] as const) {
    toolEntryId = (await call(L, L.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "team-co", usage: toolRuns(tool, 1), attribution: { userId: "bob" }, final: true, idempotencyKey: key }))).entryId;
  }
  ui = await startConsole(platform, db.url);
  ({ gateway, browser } = ui);
  // The notifications of the 50 % crossing exist before any page shows them.
  await eventually(async () => {
    const { notifications } = await call(platform.clients.notifications, platform.clients.notifications.listNotifications, { accountId: "team-co", traceId: "", page: undefined });
    return notifications.length ? true : undefined;
  }, 10_000, "the 50 % notifications");
}, 240_000);

afterAll(async () => {
  await ui?.stop();
  await platform?.stop();
  await db?.drop();
});

const signIn = (path: string): Promise<Page> => signInPage(browser, gateway.url, "vera", "viewer-pass", path);

const text = async (page: Page, testId: string) => ((await page.getByTestId(testId).first().textContent()) ?? "").trim();

/** The receipt page shows what GetReceipt answers for this charge or hold. */
async function expectReceipt(page: Page, target: { entryId?: string; holdId?: string }) {
  await page.getByTestId("receipt-page").waitFor();
  const r = await receiptOf(target);
  const unit = unitName(r.unit);
  expect(await text(page, "receipt-asked")).toBe(formatAmount(r.askedMicros, unit, { exact: true }));
  expect(await text(page, "receipt-charged")).toBe(formatAmount(r.chargedMicros, unit, { exact: true }));
  expect(await text(page, "receipt-balance-before")).toBe(formatAmount(r.balanceBeforeMicros, unit, { exact: true }));
  expect(await text(page, "receipt-balance-after")).toBe(formatAmount(r.balanceAfterMicros, unit, { exact: true }));
  expect(await text(page, "receipt-idempotency-key")).toContain(r.idempotencyKey);
  expect(await page.getByTestId("rate-table-ref").first().textContent()).toBe(`${r.rateTableId} v${r.rateTableVersion}`);
  const quantities = await page.getByTestId("receipt-line-quantity").allTextContents();
  expect(quantities).toEqual(r.lines.map((l) => (l.quantityKnown ? l.quantity : "not recorded")));
  expect(await page.getByTestId("receipt-pool-drawn").allTextContents()).toEqual(r.pools.map((p) => formatAmount(p.drawnMicros, unit, { exact: true })));
  expect(await page.getByTestId("receipt-event").count()).toBe(r.events.length);
  return r;
}

describe("cost receipts in Chromium", () => {
  it("opens a charge's receipt from the ledger explorer: asked, charged, the line item, the pool, balances, key, and the notifications it caused", async () => {
    const filter = encodeURIComponent(JSON.stringify({ account_id: "team-co", kind: "charge" }));
    const page = await signIn(`/#/tollgate-entries?filter=${filter}`);
    await page.getByRole("row").filter({ hasText: holdId }).getByTestId("receipt-link").click();
    await page.waitForURL((url) => url.hash.includes(`tollgate-receipts/${entryId}`));
    const r = await expectReceipt(page, { entryId });
    // 12 replies asked, 11 charged at 5 credits from the monthly pool: 100 → 45.
    expect([r.askedMicros, r.chargedMicros, r.balanceBeforeMicros, r.balanceAfterMicros]).toEqual(["60000000", "55000000", "100000000", "45000000"]);
    expect(await text(page, "receipt-line-quantity")).toBe("11");
    expect(await page.getByTestId("receipt-event").first().textContent()).toContain("threshold crossed");
    // The notifications service's deliveries of the 50 % crossing, under the charge's trace.
    await page.getByTestId("receipt-notification").first().waitFor();
    const { notifications } = await call(platform.clients.notifications, platform.clients.notifications.listNotifications, { accountId: "team-co", traceId: r.traceId, page: undefined });
    expect(await page.getByTestId("receipt-notification").count()).toBe(notifications.length);
    await page.screenshot({ path: `${screenshotDir}/receipt-charge.png`, fullPage: true });
    await page.close();
  }, 120_000);

  it("opens a tool run's receipt from the account's ledger tab", async () => {
    const page = await signIn("/#/tollgate-accounts/team-co/show/ledger");
    await page.getByTestId("receipt-link").first().click(); // newest first: the last tool run
    await page.waitForURL((url) => url.hash.includes(`tollgate-receipts/${toolEntryId}`));
    const r = await expectReceipt(page, { entryId: toolEntryId });
    expect(unitName(r.unit)).toBe("tool_runs");
    await page.screenshot({ path: `${screenshotDir}/receipt-tool-run.png`, fullPage: true });
    await page.close();
  }, 120_000);

  it("opens the receipts of a conversation's charge and of its hold from search results", async () => {
    const page = await signIn("/#/tollgate-accounts");
    await page.getByTestId("app-search").fill("conv-browser-1");
    await page.getByTestId("app-search").press("Enter");
    await page.getByTestId("search-hit").first().getByTestId("receipt-link").click();
    await page.waitForURL((url) => url.hash.includes(`tollgate-receipts/${entryId}`));
    await expectReceipt(page, { entryId });

    await page.getByTestId("app-search").fill(holdId);
    await page.getByTestId("app-search").press("Enter");
    await page.getByTestId("search-hit").first().getByTestId("receipt-link").click();
    await page.waitForURL((url) => url.hash.includes(`tollgate-receipts/${holdId}`));
    const r = await expectReceipt(page, { holdId });
    expect(r.idempotencyKey).toBe("b-authorize");
    await page.getByText(`Receipt of hold ${holdId}`).first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/receipt-hold.png`, fullPage: true });
    await page.close();
  }, 120_000);
});

describe("usage views in Chromium", () => {
  it("shows each member's and the team's AI, compute and platform credits as the ledger sums them", async () => {
    const page = await signIn("/#/tollgate-accounts/team-co/show/members");
    await page.getByTestId("member-usage-chart").waitFor();
    const { rows } = await call(ledger(), ledger().getUsageBreakdown, { accountId: "team-co", dimension: "user_id", splitBy: "bucket", since: undefined });
    const credits = rows.filter((row) => unitName(row.unit) === "credits");
    const sum = (user: string | null, bucket: string) =>
      credits.filter((row) => (user === null || row.key === user) && row.split === bucket).reduce((total, row) => total + BigInt(row.amountMicros), 0n);
    for (const [testId, user] of [["member-usage-team", null], ["member-usage-row", "ana"], ["member-usage-row", "bob"]] as const) {
      const row = user === null ? page.getByTestId(testId) : page.locator(`[data-testid="${testId}"][data-member="${user}"]`);
      for (const bucket of ["ai", "compute", "platform"]) {
        expect(await row.getByTestId(`member-${bucket}`).textContent(), `${user ?? "team"} ${bucket}`).toBe(formatAmount(sum(user, bucket), "credits", { exact: true }));
      }
    }
    // ana: 55 ai + 3 compute; bob: 2 compute + 3 platform; the team: 55 / 5 / 3.
    expect(await page.getByTestId("member-usage-team").getByTestId("member-total").textContent()).toBe("63 credits");
    expect(await page.locator("[data-testid=member-usage-chart] .recharts-bar-rectangle").count()).toBeGreaterThanOrEqual(6);
    await page.screenshot({ path: `${screenshotDir}/account-members.png`, fullPage: true });
    await page.close();
  }, 120_000);

  it("lists the tools deployed at least once with owner, runs and status, without the one in development", async () => {
    const page = await signIn("/#/tollgate-accounts/team-co/show/tools");
    await page.getByTestId("tool-row").first().waitFor();
    const listed = await call(ledger(), ledger().listTools, { accountId: "team-co", page: undefined });
    const shown = await page.getByTestId("tool-row").evaluateAll((rows) =>
      rows.map((row) => [row.getAttribute("data-tool"), ...["tool-owner", "tool-runs", "tool-status"].map((id) => row.querySelector(`[data-testid=${id}]`)?.textContent ?? "")]),
    );
    expect(shown).toEqual(listed.tools.map((t) => [t.tool, t.owner, t.runs, ledgerV1.toolStatusToJSON(t.status).slice("TOOL_STATUS_".length).toLowerCase()]));
    expect(shown).toEqual([["pdf-reader", "bob", "1", "undeployed"], ["web-search", "ana", "2", "deployed"]]);
    expect(await text(page, "tools-total")).toBe(listed.totalTools);
    expect(await text(page, "tools-runs")).toBe(listed.totalRuns);
    await page.screenshot({ path: `${screenshotDir}/account-tools-catalogue.png`, fullPage: true });
    await page.close();
  }, 120_000);

  it("shows an account's tools a page at a time, every one after 'Show more'", async () => {
    const L = ledger();
    const { entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "many-tools-co", name: "Many Tools", planId: "team", seats: 1 }));
    const tools = Array.from({ length: 105 }, (_, i) => `tool-${String(i).padStart(3, "0")}`);
    for (const tool of tools) await call(L, L.setTool, { accountId: "many-tools-co", tool, owner: "ana", status: ledgerV1.ToolStatus.TOOL_STATUS_DEPLOYED });
    const page = await signIn("/#/tollgate-accounts/many-tools-co/show/tools");
    const shown = () => page.getByTestId("tool-row").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-tool")));
    await page.getByTestId("tool-row").first().waitFor();
    expect(await shown()).toHaveLength(100);
    expect(await text(page, "tools-total")).toBe("105");
    await page.getByTestId("tools-more").click();
    await page.getByTestId("tool-row").nth(104).waitFor();
    expect((await shown()).sort()).toEqual(tools);
    await page.getByTestId("tools-more").waitFor({ state: "detached" });
    await page.close();
  }, 120_000);
});

describe("reversing a charge in Chromium", () => {
  it("an operator reverses a charge from its receipt with a reason; the receipt then shows the reversal and the pools have it back", async () => {
    const L = ledger();
    const charged = await call(L, L.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "team-co", usage: blockRuns("sandbox", 4), final: true, idempotencyKey: "b-to-reverse" }));
    const balance = async () => (await call(L, L.getBalance, { accountId: "team-co" })).units.find((u) => unitName(u.unit) === "credits")!.balanceMicros;
    const before = BigInt(await balance());

    const viewer = await signIn(`/#/tollgate-receipts/${charged.entryId}/show`);
    await viewer.getByTestId("receipt-page").waitFor();
    expect(await viewer.getByTestId("reverse-button").isDisabled(), "a viewer may not reverse").toBe(true);
    await viewer.close();

    const page = await signInPage(browser, gateway.url, "otto", "operator-pass", `/#/tollgate-receipts/${charged.entryId}/show`);
    await page.getByTestId("reverse-button").click();
    await page.getByTestId("reverse-reason").fill("Sandbox crashed before running: refund");
    await page.getByTestId("reverse-submit").click();
    await page.getByTestId("receipt-reversed").waitFor();
    const reversedBy = (await call(L, L.getReceipt, { entryId: charged.entryId, holdId: "" })).receipt!.charges[0]!.reversedByEntryId;
    expect(reversedBy).not.toBe("0");
    expect(await text(page, "receipt-reversed")).toContain(`#${reversedBy}`);
    expect(BigInt(await balance())).toBe(before + BigInt(charged.chargedMicros));
    const entries = (await call(L, L.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "team-co", kind: ledgerV1.EntryKind.ENTRY_KIND_REVERSE }))).entries;
    expect(entries.map((e) => [e.reversesEntryId, e.reason, e.onBehalfOf])).toEqual([[charged.entryId, "Sandbox crashed before running: refund", "otto"]]);
    await page.screenshot({ path: `${screenshotDir}/receipt-reversed.png`, fullPage: true });
    await page.close();
  }, 120_000);
});

describe("usage reported late in Chromium", () => {
  it("shows when a late charge's usage happened and when it was recorded, in the account's ledger and on its receipt", async () => {
    const L = ledger();
    const occurredAt = new Date(Date.now() - 5_000);
    const charged = await call(L, L.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "team-co", usage: blockRuns("sandbox", 1), final: true, idempotencyKey: "b-late", occurredAt }));
    const page = await signIn("/#/tollgate-accounts/team-co/show/ledger");
    const row = page.getByRole("row").filter({ has: page.getByTestId("entry-recorded") });
    await row.first().waitFor();
    expect(await row.count(), "only the late charge says when it was recorded").toBe(1);
    await row.getByTestId("receipt-link").click();
    await page.waitForURL((url) => url.hash.includes(`tollgate-receipts/${charged.entryId}`));
    await page.getByTestId("receipt-recorded").waitFor();
    const [when, recorded] = [await text(page, "receipt-when"), await text(page, "receipt-recorded")];
    expect(Date.parse(recorded) - Date.parse(when), `${when} then ${recorded}`).toBeGreaterThanOrEqual(4_000);
    await page.close();
  }, 120_000);
});
