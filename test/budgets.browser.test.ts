/**
 * Budgets on the console's account page, in real headless Chromium against
 * the real gateway and services with authentication on: an operator sets a
 * budget with a reason, the page shows used / limit as the ledger answers it,
 * a change keeps what was used, and the audit log has the row. Screenshots go
 * to test-results/screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "@tollgate/gateway";
import { call } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase } from "@tollgate/testing";
import { formatAmount } from "../admin/src/money.js";
import { screenshotDir, signInPage, startConsole, type ConsoleUnderTest } from "./browser.js";
import { replies, seedStarter } from "./fixtures.js";
import { startPlatform } from "./platform.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let platform: Awaited<ReturnType<typeof startPlatform>>;
let gateway: Gateway;
let ui: ConsoleUnderTest;
let browser: import("playwright-core").Browser;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "budget-co");
  ui = await startConsole(platform, db.url);
  ({ gateway, browser } = ui);
}, 240_000);

afterAll(async () => {
  await ui?.stop();
  await platform?.stop();
  await db?.drop();
});

const BUDGET = "credits/agent/support-bot";

describe("budgets in the console", () => {
  it("an operator sets a budget with a reason; the account page shows used / limit as the ledger counts it, a change keeps it, removing it ends it, and the audit log has each", async () => {
    const viewer = await signInPage(browser, gateway.url, "vera", "viewer-pass", "/#/tollgate-accounts/budget-co/show");
    await viewer.getByTestId("budgets-empty").waitFor();
    expect(await viewer.getByTestId("budget-add-button").isDisabled(), "a viewer may not set budgets").toBe(true);
    await viewer.close();

    const page = await signInPage(browser, gateway.url, "otto", "operator-pass", "/#/tollgate-accounts/budget-co/show");
    await page.getByTestId("budget-add-button").click();
    await page.getByTestId("budget-dialog").waitFor();
    await page.getByTestId("budget-scope").selectOption("agent");
    await page.getByTestId("budget-scope-id").fill("support-bot");
    await page.getByTestId("budget-limit").fill("40");
    await page.getByTestId("budget-mode").selectOption("hard");
    await page.getByTestId("budget-submit").click();
    // The reason is required: the dialog stays open and says so.
    await page.getByTestId("budget-dialog").waitFor();
    await page.getByTestId("budget-reason").fill("support bot looped on 28 Nov");
    await page.getByTestId("budget-submit").click();
    await page.getByTestId("budget-dialog").waitFor({ state: "hidden" });
    await page.getByTestId(`budget-${BUDGET}`).waitFor();

    // The agent spends 15 credits (three replies); the page, reloaded, shows what GetBalance answers.
    const { ledger } = platform.clients;
    for (const key of ["r1", "r2", "r3"]) {
      await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
        accountId: "budget-co", usage: replies("gpt-4o", 1), final: true, idempotencyKey: key, attribution: commonV1.Attribution.fromPartial({ agentId: "support-bot" }),
      }));
    }
    const budget = (await call(ledger, ledger.getBalance, { accountId: "budget-co" })).budgets.find((b) => b.budgetId === BUDGET)!;
    expect(budget).toMatchObject({ usedMicros: "15000000", limitMicros: "40000000" });
    await page.reload();
    const used = page.getByTestId(`budget-used-${BUDGET}`);
    await expect.poll(() => used.textContent(), { timeout: 10_000 }).toBe(`${formatAmount(budget.usedMicros, "credits")} / ${formatAmount(budget.limitMicros, "credits")}`);
    expect(await used.textContent()).toBe("15 credits / 40 credits");
    await page.screenshot({ path: `${screenshotDir}/account-budgets.png`, fullPage: true });

    // Raised to 60 with a reason: what was used is kept.
    await page.getByTestId(`budget-edit-${BUDGET}`).click();
    await page.getByTestId("budget-limit").fill("60");
    await page.getByTestId("budget-reason").fill("raised after the fix shipped");
    await page.getByTestId("budget-submit").click();
    await page.getByTestId("budget-dialog").waitFor({ state: "hidden" });
    await expect.poll(() => used.textContent(), { timeout: 10_000 }).toBe("15 credits / 60 credits");

    await page.goto(`${gateway.url}/#/tollgate-audit`);
    const row = page.getByRole("row").filter({ hasText: "support bot looped on 28 Nov" });
    await row.first().waitFor();
    expect(await row.first().textContent()).toContain("otto");
    // The ledger's own record of the gRPC SetBudget: the gateway's principal, acting for otto.
    await page.getByRole("row").filter({ hasText: /SetBudget/ }).filter({ hasText: "raised after the fix shipped" }).first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/audit-budget.png`, fullPage: true });

    // Removed with a reason: the account page no longer lists it, the ledger no longer counts it, the audit log has it.
    await page.goto(`${gateway.url}/#/tollgate-accounts/budget-co/show`);
    await page.getByTestId(`budget-remove-${BUDGET}`).click();
    await page.getByTestId("budget-remove-dialog").waitFor();
    expect(await page.getByTestId("budget-remove-summary").textContent()).toContain("15 credits of 60 credits");
    await page.getByTestId("budget-remove-reason").fill("support bot retired");
    await page.getByTestId("budget-remove-submit").click();
    await page.getByTestId("budget-remove-dialog").waitFor({ state: "hidden" });
    await page.getByTestId("budgets-empty").waitFor();
    expect((await call(ledger, ledger.getBalance, { accountId: "budget-co" })).budgets).toEqual([]);
    await page.goto(`${gateway.url}/#/tollgate-audit`);
    await page.getByRole("row").filter({ hasText: "support bot retired" }).first().waitFor();
    await page.close();
  }, 180_000);

  it("keeps a soft budget's own thresholds when an operator changes its limit, and lets the operator change them", async () => {
    await seedStarter(platform, "soft-co");
    const { ledger } = platform.clients;
    const SOFT = "credits/workspace/research";
    await call(ledger, ledger.setBudget, ledgerV1.SetBudgetRequest.fromPartial({
      accountId: "soft-co", unit: commonV1.Unit.UNIT_CREDITS, scope: ledgerV1.BudgetScope.BUDGET_SCOPE_WORKSPACE, scopeId: "research",
      limitMicros: "30000000", mode: ledgerV1.BudgetMode.BUDGET_MODE_SOFT, perCycle: true, thresholdPercents: [50, 90], reason: "research spend", actor: "test", idempotencyKey: "soft-research",
    }));
    const budget = async () => (await call(ledger, ledger.getBalance, { accountId: "soft-co" })).budgets.find((b) => b.budgetId === SOFT)!;

    const page = await signInPage(browser, gateway.url, "otto", "operator-pass", "/#/tollgate-accounts/soft-co/show");
    await page.getByTestId(`budget-edit-${SOFT}`).click();
    await page.getByTestId("budget-limit").fill("45");
    await page.getByTestId("budget-reason").fill("research grew");
    await page.getByTestId("budget-submit").click();
    await page.getByTestId("budget-dialog").waitFor({ state: "hidden" });
    expect(await budget()).toMatchObject({ limitMicros: "45000000", thresholdPercents: [50, 90] });
    await expect.poll(() => page.getByTestId(`budget-${SOFT}`).textContent(), { timeout: 10_000 }).toMatch(/Soft \(warns at 50, 90 %\).*45 credits/);

    // The form shows them and checks what is typed before sending it.
    await page.getByTestId(`budget-edit-${SOFT}`).click();
    const thresholds = page.getByTestId("budget-thresholds");
    expect(await thresholds.inputValue()).toBe("50, 90");
    await thresholds.fill("60, sixty");
    await page.getByTestId("budget-reason").fill("warn later");
    await page.getByTestId("budget-submit").click();
    await page.getByText("Each must be a whole percent from 1 to 1000").first().waitFor();
    await thresholds.fill("75, 95");
    await page.getByTestId("budget-submit").click();
    await page.getByTestId("budget-dialog").waitFor({ state: "hidden" });
    expect(await budget()).toMatchObject({ limitMicros: "45000000", thresholdPercents: [75, 95] });
    await page.close();
  }, 120_000);
});
