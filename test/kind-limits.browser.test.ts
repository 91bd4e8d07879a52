/**
 * Limits per kind of work in the support console (headless Chromium, the
 * real gateway and services, auth on): an account on seed 001's
 * enterprise-standard plan shows its plan's limits per kind, what new work of
 * each kind may do at its balance, and its usage by kind; an operator
 * overrides model hosting's limits with a reason, audited. Screenshots go to
 * test-results/screenshots/.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { Browser } from "playwright-core";
import type { Gateway } from "@tollgate/gateway";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { loadCatalogue } from "../scripts/catalogue.js";
import { CREDIT } from "./fixtures.js";
import { screenshotDir, signInPage, startConsole, type ConsoleUnderTest } from "./browser.js";
import { startPlatform, type Platform } from "./platform.js";

const root = new URL("..", import.meta.url).pathname;
let db: TestDatabase;
let platform: Platform;
let gateway: Gateway;
let ui: ConsoleUnderTest;
let browser: Browser;
let sql: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { meterIntervalMs: 0 });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await loadCatalogue(join(root, "catalogues/enterprise-agent-builder.yaml"), platform.clients, "test");
  const { entitlements, ledger } = platform.clients;
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
    accountId: "guard-co", name: "Guard Co", planId: "enterprise-standard", seats: 3, adminEmails: ["admin@guard-co.example"],
  }));
  // 20 credits available: above the guardrail's low-credit limit (10), below model hosting's (25).
  const balance = await call(ledger, ledger.getBalance, { accountId: "guard-co" });
  const credits = balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!;
  const monthly = balance.pools.find((p) => p.kind === entitlementsV1.PoolKind.POOL_KIND_MONTHLY)!;
  await call(ledger, ledger.adjust, {
    accountId: "guard-co", poolId: monthly.poolId, amountMicros: String(20n * BigInt(CREDIT) - BigInt(credits.availableMicros)), reason: "test", actor: "support", idempotencyKey: "drain",
  });
  // A guardrail deployed and metered for an hour: 5 credits of guardrail usage.
  await call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({
    accountId: "guard-co", deploymentId: "pii-scan", replicas: 1, idempotencyKey: "deploy", workKind: commonV1.WorkKind.WORK_KIND_GUARDRAIL,
    hardware: { kind: { $case: "cpuTime", cpuTime: { cpuType: "x86-standard", cores: "10", seconds: "0" } } },
  }));
  await sql.query(`update ledger.metered_work set charged_until = charged_until - interval '1 hour' where work_id = 'pii-scan'`);
  await call(ledger, ledger.scale, { accountId: "guard-co", deploymentId: "pii-scan", replicas: 1, idempotencyKey: "tick" });
  ui = await startConsole(platform, db.url);
  ({ gateway, browser } = ui);
}, 180_000);

afterAll(async () => {
  await ui?.stop();
  await sql?.end();
  await platform?.stop();
  await db?.drop();
});

const api = async (path: string) => {
  const login = await fetch(`${gateway.url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "vera", password: "viewer-pass" }) });
  const { token } = (await login.json()) as { token: string };
  return (await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<Record<string, any>>;
};

describe("limits per kind of work in the console", () => {
  it("shows the plan's limits per kind, what new work may do now and the usage by kind, and lets an operator override one kind with a reason, audited", async () => {
    const page = await signInPage(browser, gateway.url, "otto", "operator-pass", "/#/tollgate-accounts/guard-co/show");
    const panel = page.getByTestId("kind-limits");
    await panel.waitFor().catch(async (error: unknown) => {
      await page.screenshot({ path: `${screenshotDir}/account-kind-limits-failed.png`, fullPage: true });
      throw error;
    });
    // 15 credits available after the guardrail's 5: guardrails may start (10), model hosting may not (25).
    expect(await page.getByTestId("kind-limit-guardrail").textContent()).toMatch(/Guardrails.*10 credits.*20 credits.*Refused.*Allowed.*35 credits.*Plan/);
    expect(await page.getByTestId("kind-limit-custom_script").textContent()).toMatch(/Custom scripts.*0 credits.*10 credits.*Drafts only.*Allowed/);
    expect(await page.getByTestId("kind-new-work-model_hosting").textContent()).toBe("Refused: below the low-credit limit");
    const usage = page.getByText("Used by kind of work").locator("xpath=ancestor::*[contains(@class,'MuiCard-root')][1]");
    await usage.getByText("guardrail").waitFor();
    expect(await usage.textContent()).toContain("5 credits");
    await page.screenshot({ path: `${screenshotDir}/account-kind-limits.png`, fullPage: true });

    await page.getByTestId("limits-button").click();
    await page.getByTestId("limits-dialog").waitFor();
    await page.getByTestId("limits-work-kind").selectOption("model_hosting");
    // The form starts from the plan's row for the kind.
    expect(await page.getByTestId("limits-low-credit").inputValue()).toBe("25");
    await page.getByTestId("limits-low-credit").fill("10");
    await page.getByTestId("limits-negative").fill("30");
    await page.screenshot({ path: `${screenshotDir}/kind-limits-dialog.png`, fullPage: true });
    await page.getByTestId("limits-submit").click();
    expect(await page.getByTestId("limits-dialog").isVisible()).toBe(true); // no reason: nothing sent
    await page.getByTestId("limits-reason").fill("hosting pilot for this customer");
    await page.getByTestId("limits-submit").click();
    await page.getByTestId("limits-dialog").waitFor({ state: "hidden" });
    await expect.poll(() => page.getByTestId("kind-limit-model_hosting").textContent(), { timeout: 10_000 }).toMatch(/Model hosting.*10 credits.*30 credits.*Allowed.*Account override/);
    await page.screenshot({ path: `${screenshotDir}/account-kind-limits-override.png`, fullPage: true });

    const account = await api("/api/accounts/guard-co");
    expect(account.limit_overrides).toEqual([
      { unit: "credits", low_credit_limit_micros: "10000000", negative_limit_micros: "30000000", work_kind: "model_hosting", drafts_at_zero: false, stop_message: "" },
    ]);
    const audit = await api("/api/audit?account_id=guard-co");
    const changes = audit.data.filter((row: { action: string }) => row.action === "set_limits");
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ actor: "otto", reason: "hosting pilot for this customer" });
    // The ledger follows: model hosting may now deploy at 15 credits.
    await expect.poll(async () => (await call(platform.clients.ledger, platform.clients.ledger.deploy, ledgerV1.DeployRequest.fromPartial({
      accountId: "guard-co", deploymentId: "llama", replicas: 1, idempotencyKey: `llama-${Date.now()}`, workKind: commonV1.WorkKind.WORK_KIND_MODEL_HOSTING,
      hardware: { kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "0", seconds: "0" } } },
    }))).allowed, { timeout: 10_000 }).toBe(true);

    // The Models tab's totals: guardrails are in the ai bucket ("model credits cover model inference and guardrails"),
    // and hosting and fine-tuning are counted by their kind of work.
    await page.goto(`${gateway.url}/#/tollgate-accounts/guard-co/show/models`);
    await expect.poll(() => page.getByTestId("bucket-total-ai").textContent(), { timeout: 10_000 }).toMatch(/Inference and guardrails[^0-9]*5(\.\d+)? credits/);
    expect(await page.getByTestId("kind-total-fine_tuning").textContent()).toContain("no usage");
    await page.goto(`${gateway.url}/#/tollgate-accounts/guard-co/show/scripts`);
    await expect.poll(() => page.getByTestId("kind-total-custom_script").textContent(), { timeout: 10_000 }).toMatch(/Hosting credits \(custom scripts\).*no usage/);
    await page.close();
  }, 120_000);

  it("keeps a kind's drafts-at-zero and stop message when an operator changes only its numbers, and lets the operator change them", async () => {
    // Seed 001's enterprise-standard: custom scripts may be saved as drafts at zero and have a stop message of their own.
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "script-co", name: "Script Co", planId: "enterprise-standard", seats: 1,
    }));
    const planRow = ((await api("/api/accounts/script-co")).plan.limits as { work_kind?: string; drafts_at_zero?: boolean; stop_message?: string }[])
      .find((l) => l.work_kind === "custom_script")!;
    expect(planRow).toMatchObject({ drafts_at_zero: true, stop_message: expect.stringContaining("custom script deployment failed") });
    const page = await signInPage(browser, gateway.url, "otto", "operator-pass", "/#/tollgate-accounts/script-co/show");
    await page.getByTestId("limits-button").click();
    await page.getByTestId("limits-dialog").waitFor();
    await page.getByTestId("limits-work-kind").selectOption("custom_script");
    expect(await page.getByTestId("limits-negative").inputValue()).toBe("10");
    await page.getByTestId("limits-negative").fill("15");
    await page.getByTestId("limits-reason").fill("more room for this customer's scripts");
    await page.getByTestId("limits-submit").click();
    await page.getByTestId("limits-dialog").waitFor({ state: "hidden" });
    const override = async () => ((await api("/api/accounts/script-co")).limit_overrides as { work_kind?: string }[]).find((o) => o.work_kind === "custom_script");
    expect(await override()).toEqual({
      unit: "credits", low_credit_limit_micros: "0", negative_limit_micros: "15000000", work_kind: "custom_script", drafts_at_zero: true, stop_message: planRow.stop_message,
    });

    // The form shows them, from the override now, and changes them.
    await expect.poll(() => page.getByTestId("kind-limit-custom_script").textContent(), { timeout: 10_000 }).toMatch(/Custom scripts.*15 credits.*Account override/);
    await page.getByTestId("limits-button").click();
    await page.getByTestId("limits-work-kind").selectOption("custom_script");
    expect(await page.getByTestId("limits-drafts-at-zero").isChecked()).toBe(true);
    expect(await page.getByTestId("limits-stop-message").inputValue()).toBe(planRow.stop_message);
    await page.getByTestId("limits-drafts-at-zero").uncheck();
    await page.getByTestId("limits-stop-message").fill("Scripts stopped: add credits to run them again.");
    await page.getByTestId("limits-reason").fill("no drafts for this customer");
    await page.getByTestId("limits-submit").click();
    await page.getByTestId("limits-dialog").waitFor({ state: "hidden" });
    expect(await override()).toMatchObject({ negative_limit_micros: "15000000", drafts_at_zero: false, stop_message: "Scripts stopped: add credits to run them again." });
    await page.close();
  }, 120_000);

  it("moves an account to its plan's newer version from Change plan, and refuses the version it is on", async () => {
    const { entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "move-co", name: "Move Co", planId: "enterprise-standard", seats: 1,
    }));
    const { plan } = await call(entitlements, entitlements.getPlan, { planId: "enterprise-standard", version: "0" });
    const { plan: newer } = await call(entitlements, entitlements.publishPlan, {
      plan: { ...plan!, version: "0", name: "Enterprise Standard 2027" }, actor: "test", reason: "new prices", idempotencyKey: "standard-2027",
    });
    expect(BigInt(newer!.version)).toBeGreaterThan(BigInt(plan!.version));

    const page = await signInPage(browser, gateway.url, "ada", "admin-pass", "/#/tollgate-accounts/move-co/show");
    await page.getByTestId("change-plan-button").click();
    await page.getByTestId("change-plan-dialog").waitFor();
    // The account's own plan is offered at its newest version, and the dialog says where it moves.
    expect(await page.getByTestId("change-plan-plan").inputValue()).toBe("enterprise-standard");
    await page.getByText(`Now on enterprise-standard v${plan!.version}: moves it to v${newer!.version}`).waitFor();
    await page.getByTestId("change-plan-reason").fill("customer accepted the 2027 prices");
    await page.getByTestId("change-plan-submit").click();
    await page.getByTestId("change-plan-dialog").waitFor({ state: "hidden" });
    expect(await api("/api/accounts/move-co")).toMatchObject({ plan_id: "enterprise-standard", plan_version: String(newer!.version) });

    // On the newest version now: the same plan is refused in the form, nothing sent.
    await page.reload();
    await page.getByTestId("change-plan-button").click();
    await page.getByTestId("change-plan-reason").fill("again");
    await page.getByTestId("change-plan-submit").click();
    await page.getByText("The account is on this plan's newest version already").first().waitFor();
    await page.close();
  }, 120_000);

  it("offers every plan in Change plan, past the API's first page of 500", async () => {
    const { entitlements } = platform.clients;
    const { plan } = await call(entitlements, entitlements.getPlan, { planId: "enterprise-standard", version: "0" });
    const publish = (planId: string) => call(entitlements, entitlements.publishPlan, {
      plan: { ...plan!, planId, version: "0", name: planId }, actor: "test", reason: "catalogue", idempotencyKey: `publish-${planId}`,
    });
    // Plans list by version, oldest first: 500 published now fill the first page past the catalogue's, the last one is on the second.
    for (let batch = 0; batch < 500; batch += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, i) => publish(`filler-${String(batch + i).padStart(3, "0")}`)));
    }
    await publish("published-last");

    const page = await signInPage(browser, gateway.url, "ada", "admin-pass", "/#/tollgate-accounts/guard-co/show");
    await page.getByTestId("change-plan-button").click();
    const select = page.getByTestId("change-plan-plan");
    await select.locator('option[value="published-last"]').waitFor({ state: "attached", timeout: 30_000 });
    expect(await select.locator("option").count()).toBeGreaterThan(501);
    await select.selectOption("published-last");
    await page.getByTestId("change-plan-reason").fill("moves to the newest plan");
    await page.getByTestId("change-plan-submit").click();
    await page.getByTestId("change-plan-dialog").waitFor({ state: "hidden" });
    expect(await api("/api/accounts/guard-co")).toMatchObject({ plan_id: "published-last" });
    await page.close();
  }, 180_000);
});
