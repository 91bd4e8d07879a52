import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1 } from "@tollgate/proto";
import { CallAuditLog, requestHash } from "@tollgate/db";
import { startNotificationsService } from "@tollgate/notifications";
import { createTestDatabase, errorDetails, eventually, type TestDatabase } from "@tollgate/testing";
import { createClient } from "@tollgate/grpc-kit";
import pg from "pg";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";
import { startSmtpSink, startWebhookReceiver } from "./sinks.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const N = notificationsV1;

let db: TestDatabase;
let platform: Platform;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;

async function account(accountId: string, webhookUrl: string) {
  const { entitlements, notifications } = platform.clients;
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
    accountId, name: accountId, planId: "starter", seats: 2, adminEmails: [`admin@${accountId}.example`],
  }));
  await call(notifications, notifications.setPreferences, {
    updateFields: [],
    preferences: N.Preferences.fromPartial({ accountId, webhooks: [{ url: webhookUrl, secret: SECRET }] }),
  });
}

const spend = (accountId: string, key: string, count: number) =>
  call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
    accountId, usage: replies("gpt-4o", count), final: true, idempotencyKey: key,
  }));

const log = async (accountId: string, client = platform.clients.notifications) =>
  (await call(client, client.listNotifications, { accountId, page: { pageSize: 100, pageToken: "" }, traceId: "" })).notifications;

const thresholds = (hook: { received: { type: string; data: Record<string, unknown> }[] }) =>
  hook.received.filter((w) => w.type === "usage.threshold_crossed").map((w) => w.data.threshold_percent).sort();

const settled = (accountId: string, count: number, client = platform.clients.notifications) =>
  eventually(async () => {
    const rows = await log(accountId, client);
    return rows.length === count && rows.every((n) => n.status === N.DeliveryStatus.DELIVERY_STATUS_DELIVERED) ? rows : undefined;
  }, 8_000, `${count} delivered notifications for ${accountId}`);

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { smtpUrl: smtp.url, retryBaseMs: 50, maxAttempts: 5 });
  await seedStarter(platform, "notify-seed");
});

afterAll(async () => {
  await platform?.stop();
  await smtp?.stop();
  await db?.drop();
});

describe("the run-out projection", () => {
  const DAY = 86_400_000;
  const banner = async (accountId: string) =>
    (await call(platform.clients.notifications, platform.clients.notifications.listBanners, { accountId, includeDismissed: false }));

  it("does not warn a fresh account that spent a fifth of its credits in its first minutes", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await account("fresh", hook.url);
    for (let i = 1; i <= 4; i++) await spend("fresh", `fresh-${i}`, 1); // 4 × 5 = 20 credits: crosses 20 %
    await settled("fresh", 1); // the 20 % webhook only
    const banners = await banner("fresh");
    expect(banners.banners.map((b) => b.rule)).toEqual(["usage_20"]);
    expect(banners.willRunOutBeforeCycleEnd).toBe(false);
    expect(hook.received.map((w) => w.type)).toEqual(["usage.threshold_crossed"]);
    await hook.stop();
  });

  it("warns, with the date, once three days of usage project that the credits run out before the cycle ends", async () => {
    const hook = await startWebhookReceiver(SECRET);
    const { entitlements, notifications } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "steady", name: "steady", planId: "starter", seats: 2, adminEmails: ["admin@steady.example"],
      cycleAnchor: new Date(new Date(Date.now() - 10 * DAY).toISOString().slice(0, 10)),
    }));
    await call(notifications, notifications.setPreferences, { updateFields: [], preferences: N.Preferences.fromPartial({ accountId: "steady", webhooks: [{ url: hook.url, secret: SECRET }] }) });
    for (let i = 1; i <= 4; i++) await spend("steady", `steady-${i}`, 1); // 20 credits, crosses 20 % with four charges: no projection
    await settled("steady", 1);
    // Those four charges were made three days ago.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    await sql.query(`update ledger.entries set created_at = created_at - interval '3 days' where account_id = 'steady' and kind = 'charge'`);
    await sql.end();
    await spend("steady", "steady-5", 6); // 50 credits in 3 days and 5 charges: 50 left run out in about 3 days
    await settled("steady", 4); // webhooks 20/50 and run-out, email 50

    const banners = await banner("steady");
    expect(banners.willRunOutBeforeCycleEnd).toBe(true);
    const warning = banners.banners.find((b) => b.rule === "run_out_warning")!;
    const expected = new Date(Date.now() + 3 * DAY);
    const day = (offset: number) => new Date(expected.getTime() + offset * DAY).toISOString().slice(0, 10);
    expect(warning.message).toMatch(/^At the current rate your credits will run out on (\d{4}-\d{2}-\d{2}), before the cycle ends on \d{4}-\d{2}-\d{2}\. Upgrade to keep going\.$/);
    expect([day(-1), day(0)]).toContain(warning.message.match(/run out on (\S+),/)![1]);
    const projected = hook.received.filter((w) => w.type === "usage.run_out_projected");
    expect(projected).toHaveLength(1);
    expect(Math.abs(Date.parse(String(projected[0]!.data.run_out_at)) - expected.getTime())).toBeLessThan(DAY / 2);
    await hook.stop();
  });
});

describe("the negative limit", () => {
  it("tells the admins by email and webhook once when a charge takes the balance to its negative limit, not again while it stays there", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await account("overdrawn", hook.url);
    await spend("overdrawn", "over-1", 21); // 105 credits asked of 100 (no negative limit): 100 collected, 5 not
    const reached = () => hook.received.filter((w) => w.type === "balance.negative_limit_reached");
    await eventually(async () => (reached().length === 1 ? true : undefined), 8_000, "the negative-limit webhook");
    expect(reached()[0]!.data).toMatchObject({ account_id: "overdrawn", unit: "credits", balance_micros: "0", negative_limit_micros: "0", uncollected_micros: String(5 * CREDIT) });
    const mail = await eventually(async () => smtp.messages.find((m) => JSON.stringify(m.to).includes("admin@overdrawn.example") && m.subject?.includes("used up")), 8_000, "the email");
    expect(mail.subject).toBe("Your credits are used up");
    // Still at the limit: another charge collects nothing and says nothing more.
    await spend("overdrawn", "over-2", 1);
    await spend("overdrawn", "over-3", 1);
    const rows = await eventually(async () => {
      const all = await log("overdrawn");
      return all.length > 0 && all.every((n) => n.status === N.DeliveryStatus.DELIVERY_STATUS_DELIVERED) ? all : undefined;
    }, 8_000, "the deliveries settled");
    expect(rows.filter((r) => r.rule === "negative_limit_reached").map((r) => r.channel).sort()).toEqual([N.Channel.CHANNEL_EMAIL, N.Channel.CHANNEL_WEBHOOK].sort());
    await hook.stop();
  });
});

// Before "threshold alerts": its last test restarts the service, which platform.clients no longer reach.
describe("idempotency keys on support changes", () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("sends a resend retried with the same key once (one more email in total, not two), and refuses the key for another notification", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await account("retried", hook.url);
    await spend("retried", "retried-1", 11); // 55 %: webhooks 20 and 50, the 50 % email
    const rows = await settled("retried", 3);
    const email = rows.find((r) => r.channel === N.Channel.CHANNEL_EMAIL)!;
    const mails = () => smtp.messages.filter((m) => JSON.stringify(m.to).includes("admin@retried.example"));
    expect(mails()).toHaveLength(1);
    const row = async (id: string) => (await log("retried")).find((r) => r.notificationId === id)!;

    const { notifications } = platform.clients;
    const resend = (notificationId: string, reason = "the customer lost it") =>
      call(notifications, notifications.resendNotification, { notificationId, actor: "support@example.com", reason, idempotencyKey: "resend-retried-1" });
    const first = await resend(email.notificationId);
    expect(first.notification).toMatchObject({ notificationId: email.notificationId, status: N.DeliveryStatus.DELIVERY_STATUS_PENDING, attempts: 1 });
    await eventually(async () => ((await row(email.notificationId)).status === N.DeliveryStatus.DELIVERY_STATUS_DELIVERED ? true : undefined), 8_000, "the resent email");
    expect(mails()).toHaveLength(2);

    // The retry (a double click, a gateway's retry) answers what the first call did and sends nothing.
    const again = await resend(email.notificationId);
    expect(again).toEqual(first);
    await sleep(700); // the worker polls every 100 ms: a second send would have gone by now
    expect(mails()).toHaveLength(2);
    expect(await row(email.notificationId)).toMatchObject({ status: N.DeliveryStatus.DELIVERY_STATUS_DELIVERED, attempts: 2 });

    // The same key for another notification, or with another reason: ALREADY_EXISTS, and nothing is sent.
    const webhook = rows.find((r) => r.channel === N.Channel.CHANNEL_WEBHOOK)!;
    for (const reused of [await resend(webhook.notificationId).catch((e: unknown) => e), await resend(email.notificationId, "another reason").catch((e: unknown) => e)]) {
      expect(errorDetails(reused)).toMatchObject({ code: 6, reason: "IDEMPOTENCY_KEY_REUSED" });
    }
    await sleep(300);
    expect(await row(webhook.notificationId)).toMatchObject({ status: N.DeliveryStatus.DELIVERY_STATUS_DELIVERED, attempts: 1 });
    expect(hook.received).toHaveLength(2);
    expect(mails()).toHaveLength(2);

    // Without a key every resend sends again, as before.
    await call(notifications, notifications.resendNotification, { notificationId: webhook.notificationId, actor: "support@example.com", reason: "again", idempotencyKey: "" });
    await eventually(async () => (hook.received.length === 3 ? true : undefined), 8_000, "the webhook resent without a key");
    await hook.stop();
  });

  it("answers a dismissal and a preferences change retried with the same key as the first time, writing nothing more", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await account("prefs", hook.url);
    const { notifications } = platform.clients;
    const save = (emailRecipients: string[], idempotencyKey: string) =>
      call(notifications, notifications.setPreferences, {
        updateFields: [],
        preferences: N.Preferences.fromPartial({ accountId: "prefs", emailRecipients, webhooks: [{ url: hook.url, secret: "" }] }),
        idempotencyKey,
      });
    const first = await save(["ops@prefs.example"], "prefs-1");
    await save(["billing@prefs.example"], "prefs-2");
    // Replaying the first change answers what it saved and does not undo the second.
    expect(await save(["ops@prefs.example"], "prefs-1")).toEqual(first);
    const stored = await call(notifications, notifications.getPreferences, { accountId: "prefs" });
    expect(stored.preferences?.emailRecipients).toEqual(["billing@prefs.example"]);
    expect(errorDetails(await save(["other@prefs.example"], "prefs-1").catch((e: unknown) => e))).toMatchObject({ code: 6, reason: "IDEMPOTENCY_KEY_REUSED" });

    await spend("prefs", "prefs-spend-1", 11); // 55 %: banners at 20 and 50
    const banners = await eventually(async () => {
      const listed = await call(notifications, notifications.listBanners, { accountId: "prefs", includeDismissed: false });
      return listed.banners.length === 2 ? listed.banners : undefined;
    }, 8_000, "two banners");
    const [one, other] = banners as [notificationsV1.Banner, notificationsV1.Banner];
    const dismiss = (bannerId: string) => call(notifications, notifications.dismissBanner, { bannerId, accountId: "", actor: "support@example.com", idempotencyKey: "dismiss-1" });
    const dismissed = await dismiss(one.bannerId);
    expect(dismissed.banner).toMatchObject({ bannerId: one.bannerId, dismissed: true });
    expect(await dismiss(one.bannerId)).toEqual(dismissed);
    expect(errorDetails(await dismiss(other.bannerId).catch((e: unknown) => e))).toMatchObject({ code: 6, reason: "IDEMPOTENCY_KEY_REUSED" });
    const shown = await call(notifications, notifications.listBanners, { accountId: "prefs", includeDismissed: false });
    expect(shown.banners.map((b) => b.bannerId)).toEqual([other.bannerId]);

    // A product's credential limited to its accounts dismisses its users' banners by naming the banner's account, and
    // no one else's: a banner of another account is NOT_FOUND, whatever account it names.
    const limitedTo = (accounts: string[]) =>
      createClient(N.NotificationsServiceClient, platform.notifications.address, { credentials: platform.issuer!.credential("product", ["meter"], { accounts }) });
    const own = limitedTo(["prefs"]);
    const stranger = limitedTo(["someone-else"]);
    try {
      const dismissAs = (client: typeof own, accountId: string, key: string) =>
        call(client, client.dismissBanner, { bannerId: other.bannerId, accountId, actor: "end-user", idempotencyKey: key }).catch((e: unknown) => e);
      expect(errorDetails(await dismissAs(own, "", "limited-1"))).toMatchObject({ code: 7, reason: "ACCOUNT_NOT_PERMITTED" });
      expect(errorDetails(await dismissAs(stranger, "prefs", "limited-2"))).toMatchObject({ code: 7, reason: "ACCOUNT_NOT_PERMITTED", metadata: { account_id: "prefs" } });
      expect(errorDetails(await dismissAs(stranger, "someone-else", "limited-3"))).toMatchObject({ code: 5 }); // NOT_FOUND
      expect(await dismissAs(own, "prefs", "limited-4")).toMatchObject({ banner: { bannerId: other.bannerId, dismissed: true } });
    } finally {
      own.close();
      stranger.close();
    }
    await hook.stop();
  });
});

describe("webhook preferences", () => {
  it("refuses a webhook URL carrying a user name or password, or naming port 0, naming the field, and saves nothing", async () => {
    const { notifications } = platform.clients;
    await account("creds", "https://hooks.creds.example/tollgate");
    for (const url of ["https://user:s3cret@hooks.creds.example/x", "https://user@hooks.creds.example/x", "https://:s3cret@hooks.creds.example/x"]) {
      const error = await call(notifications, notifications.setPreferences, {
        updateFields: ["webhooks"],
        preferences: N.Preferences.fromPartial({ accountId: "creds", webhooks: [{ url: "https://hooks.creds.example/ok" }, { url }] }),
      }).catch((e: unknown) => e);
      expect(errorDetails(error), url).toMatchObject({
        code: 3, // INVALID_ARGUMENT
        fieldViolations: [expect.objectContaining({ field: "preferences.webhooks[1].url", description: expect.stringContaining("user name or password") })],
      });
    }
    // One receiver spelt twice (host case, its default port, a trailing dot) is one endpoint given twice.
    for (const spelling of ["https://HOOKS.creds.example/ok", "https://hooks.creds.example:443/ok", "https://hooks.creds.example./ok"]) {
      const twice = await call(notifications, notifications.setPreferences, {
        updateFields: ["webhooks"],
        preferences: N.Preferences.fromPartial({ accountId: "creds", webhooks: [{ url: "https://hooks.creds.example/ok" }, { url: spelling }] }),
      }).catch((e: unknown) => e);
      expect(errorDetails(twice), spelling).toMatchObject({ code: 3, fieldViolations: [expect.objectContaining({ field: "preferences.webhooks[1].url", description: expect.stringContaining("repeats webhooks[0]") })] });
    }
    // Port 0 reaches no server: every delivery would fail.
    const portZero = await call(notifications, notifications.setPreferences, {
      updateFields: ["webhooks"],
      preferences: N.Preferences.fromPartial({ accountId: "creds", webhooks: [{ url: "https://hooks.creds.example:0/x" }] }),
    }).catch((e: unknown) => e);
    expect(errorDetails(portZero)).toMatchObject({ code: 3, fieldViolations: [expect.objectContaining({ field: "preferences.webhooks[0].url", description: expect.stringContaining("port 0") })] });
    const stored = await call(notifications, notifications.getPreferences, { accountId: "creds" });
    expect(stored.preferences?.webhooks.map((w) => w.url)).toEqual(["https://hooks.creds.example/tollgate"]);
  });

  it("refuses a webhook secret weaker than the ones it makes (24 random bytes), and keeps a stored one however it was made", async () => {
    const { notifications } = platform.clients;
    await account("weak", "https://hooks.weak.example/tollgate");
    const save = (secret: string) =>
      call(notifications, notifications.setPreferences, {
        updateFields: ["webhooks"],
        preferences: N.Preferences.fromPartial({ accountId: "weak", webhooks: [{ url: "https://hooks.weak.example/tollgate", secret }] }),
      });
    for (const secret of ["whsec_AA==", `whsec_${Buffer.alloc(23, 7).toString("base64")}`, `whsec_${Buffer.alloc(65, 7).toString("base64")}`]) {
      expect(errorDetails(await save(secret).catch((e: unknown) => e)), secret).toMatchObject({
        code: 3,
        fieldViolations: [expect.objectContaining({ field: "preferences.webhooks[0].secret", description: expect.stringContaining("24 to 64 random bytes") })],
      });
    }
    const strong = `whsec_${Buffer.alloc(24, 7).toString("base64")}`;
    const saved = await save(strong);
    // Sent back as its fingerprint (as GetPreferences shows it), the stored secret is kept.
    const again = await save(saved.preferences!.webhooks[0]!.secret);
    expect(again.preferences!.webhooks[0]!.secret).toBe(saved.preferences!.webhooks[0]!.secret);
  });

  it("replays a keyed change of some fields whatever the fields it does not write say, and refuses the key for other values of those it writes", async () => {
    const { notifications } = platform.clients;
    const before = "https://hooks.partial.example/before";
    const after = "https://hooks.partial.example/after";
    await account("partial", before);
    // The console's "save email recipients": the recipients, with the webhooks it read beside them.
    const saveRecipients = (emailRecipients: string[], webhookUrl: string, idempotencyKey: string) =>
      call(notifications, notifications.setPreferences, {
        updateFields: ["email_recipients"],
        preferences: N.Preferences.fromPartial({ accountId: "partial", emailRecipients, webhooks: [{ url: webhookUrl, secret: "" }] }),
        idempotencyKey,
      });
    const first = await saveRecipients(["ops@partial.example"], before, "partial-1");
    expect(first.preferences?.emailRecipients).toEqual(["ops@partial.example"]);
    // Meanwhile another user moves the webhook and changes the recipients.
    await call(notifications, notifications.setPreferences, { updateFields: ["webhooks"], preferences: N.Preferences.fromPartial({ accountId: "partial", webhooks: [{ url: after }] }) });
    await saveRecipients(["billing@partial.example"], after, "partial-2");

    // The retry carries the webhooks read since: the same change, answered as the first time, writing nothing.
    expect(await saveRecipients(["ops@partial.example"], after, "partial-1")).toEqual(first);
    const stored = await call(notifications, notifications.getPreferences, { accountId: "partial" });
    expect(stored.preferences).toMatchObject({ emailRecipients: ["billing@partial.example"], webhooks: [{ url: after }] });
    // Other recipients under the key are another change.
    expect(errorDetails(await saveRecipients(["other@partial.example"], after, "partial-1").catch((e: unknown) => e))).toMatchObject({ code: 6, reason: "IDEMPOTENCY_KEY_REUSED" });

    // A key recorded by a release that fingerprinted the whole request (a rolling deploy) still replays that request.
    const third = { updateFields: ["email_recipients"], preferences: N.Preferences.fromPartial({ accountId: "partial", emailRecipients: ["third@partial.example"], webhooks: [{ url: after, secret: "" }] }) };
    const answered = await saveRecipients(["third@partial.example"], after, "partial-3");
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      await sql.query(`update notifications.idempotency_keys set request_hash = $1 where idempotency_key = 'partial-3'`, [
        requestHash(N.SetPreferencesRequest.toJSON(N.SetPreferencesRequest.fromPartial(third)) as Record<string, unknown>, "set_preferences"),
      ]);
    } finally {
      await sql.end();
    }
    expect(await saveRecipients(["third@partial.example"], after, "partial-3")).toEqual(answered);
  });

  it("answers a secret it generates once, in generated_secrets, and signs the endpoint's webhooks with it; a replay, a kept secret and a sent one answer none", async () => {
    const { entitlements, notifications } = platform.clients;
    let generated = "";
    const hook = await startWebhookReceiver(() => generated);
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "minted", name: "minted", planId: "starter", seats: 2, adminEmails: ["admin@minted.example"],
    }));
    const register = (idempotencyKey: string) =>
      call(notifications, notifications.setPreferences, {
        updateFields: ["webhooks"],
        preferences: N.Preferences.fromPartial({ accountId: "minted", webhooks: [{ url: hook.url }] }),
        idempotencyKey,
      });
    const first = await register("minted-1");
    expect(first.generatedSecrets).toEqual([{ url: hook.url, secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/) }]);
    generated = first.generatedSecrets[0]!.secret;
    // It is the stored secret: its fingerprint is the one the answer and GetPreferences show.
    const shown = `sha256:${createHash("sha256").update(generated).digest("hex").slice(0, 16)}`;
    expect(first.preferences!.webhooks).toEqual([{ url: hook.url, secret: shown }]);
    const read = await call(notifications, notifications.getPreferences, { accountId: "minted" });
    expect(read.preferences!.webhooks).toEqual([{ url: hook.url, secret: shown }]);

    // A replay answers what was saved without the secret, which the key's record does not hold, and changes nothing.
    const replay = await register("minted-1");
    expect(replay).toEqual({ ...first, generatedSecrets: [] });
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const { rows } = await sql.query<{ response: unknown }>(`select response from notifications.idempotency_keys where account_id = 'minted' and idempotency_key = 'minted-1'`);
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows[0]!.response)).not.toContain(generated.slice("whsec_".length));
    } finally {
      await sql.end();
    }
    expect((await call(notifications, notifications.getPreferences, { accountId: "minted" })).preferences!.webhooks[0]!.secret).toBe(shown);

    // A webhook sent to the endpoint verifies with the answered secret.
    await spend("minted", "minted-spend-1", 9); // 45 %: crosses 20
    await settled("minted", 1);
    expect(thresholds(hook)).toEqual([20]);
    expect(hook.rejectedSignatures()).toBe(0);

    // The endpoint's secret kept (none sent) and another endpoint's sent by the caller: none generated, none answered.
    const own = `whsec_${Buffer.alloc(24, 9).toString("base64")}`;
    const kept = await call(notifications, notifications.setPreferences, {
      updateFields: ["webhooks"],
      preferences: N.Preferences.fromPartial({ accountId: "minted", webhooks: [{ url: hook.url }, { url: "https://hooks.minted.example/own", secret: own }] }),
      idempotencyKey: "minted-2",
    });
    expect(kept.generatedSecrets).toEqual([]);
    expect(kept.preferences!.webhooks.map((w) => w.secret)).toEqual([shown, `sha256:${createHash("sha256").update(own).digest("hex").slice(0, 16)}`]);
    await hook.stop();
  });

  it("answers a new endpoint's generated secret to one caller only when several add it at once, the one stored", async () => {
    const { notifications } = platform.clients;
    await account("racing", "https://hooks.racing.example/first");
    const added = "https://hooks.racing.example/added";
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call(notifications, notifications.setPreferences, {
          updateFields: ["webhooks"],
          preferences: N.Preferences.fromPartial({ accountId: "racing", webhooks: [{ url: "https://hooks.racing.example/first" }, { url: added }] }),
          idempotencyKey: `racing-${i}`,
        }),
      ),
    );
    const told = answers.flatMap((a) => a.generatedSecrets);
    expect(told).toHaveLength(1);
    expect(told[0]!.url).toBe(added);
    const stored = (await call(notifications, notifications.getPreferences, { accountId: "racing" })).preferences!.webhooks;
    expect(stored.find((w) => w.url === added)!.secret).toBe(`sha256:${createHash("sha256").update(told[0]!.secret).digest("hex").slice(0, 16)}`);
    // The endpoint that was there keeps its secret throughout.
    expect(stored.find((w) => w.url !== added)!.secret).toBe(`sha256:${createHash("sha256").update(SECRET).digest("hex").slice(0, 16)}`);
  });
});

describe("threshold alerts", () => {
  it("sends one email and one signed webhook when usage crosses 50 %", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await account("half", hook.url);
    await spend("half", "half-1", 9); // 45 %: crosses 20 only
    await spend("half", "half-2", 2); // 55 %: crosses 50
    // webhook at 20 %, email + webhook at 50 % (two charges on the first day are too little history to project a run-out)
    const rows = await settled("half", 3);
    expect(rows.filter((r) => r.channel === N.Channel.CHANNEL_EMAIL).map((r) => r.rule)).toEqual(["usage_50"]);

    const mails = smtp.messages.filter((m) => m.to && JSON.stringify(m.to).includes("admin@half.example"));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe("You have used 50% of your credits");
    expect(mails[0]!.text).toContain("55%");
    expect(mails[0]!.html).toContain("<h2>You have used 50% of your credits</h2>");

    expect(thresholds(hook)).toEqual([20, 50]);
    expect(hook.received.filter((w) => w.type === "usage.run_out_projected")).toHaveLength(0);
    expect(hook.received.every((w) => w.data.account_id === "half")).toBe(true);
    expect(hook.rejectedSignatures()).toBe(0);

    // The delivery log gives a webhook's URL (which may carry its receiver's token) in full only to those who may read
    // preferences; a product's meter credential sees its origin.
    const { origin } = new URL(hook.url);
    const meter = createClient(N.NotificationsServiceClient, platform.notifications.address, { credentials: platform.issuer!.credential("product", ["meter"]) });
    try {
      const listed = async (client: typeof meter) =>
        (await call(client, client.listNotifications, { accountId: "half", page: { pageSize: 100, pageToken: "" }, traceId: "" })).notifications
          .filter((n) => n.channel === N.Channel.CHANNEL_WEBHOOK).map((n) => n.recipient);
      expect(await listed(platform.clients.notifications)).toEqual([hook.url, hook.url]);
      expect(await listed(meter)).toEqual([`${origin}/…`, `${origin}/…`]);
    } finally {
      meter.close();
    }
    await hook.stop();
  });

  it("sends an alert to an internationalized address (josé@bücher.example) over SMTPUTF8", async () => {
    const { entitlements } = platform.clients;
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId: "intl", name: "Intl", planId: "starter", seats: 2, adminEmails: ["josé@bücher.example"],
    }));
    await spend("intl", "intl-1", 11); // 55 %: crosses 20 and 50; the email is 50 %'s
    await eventually(async () => ((await log("intl")).some((n) => n.channel === N.Channel.CHANNEL_EMAIL && n.status === N.DeliveryStatus.DELIVERY_STATUS_DELIVERED) ? true : undefined), 8_000, "the email delivered");
    const envelope = smtp.envelopes.find((e) => e.rcptTo.includes("josé@bücher.example"));
    expect(envelope).toEqual({ rcptTo: ["josé@bücher.example"], smtputf8: true });
    const mail = smtp.messages.find((m) => JSON.stringify(m.to).includes("bücher.example"));
    expect(mail?.subject).toBe("You have used 50% of your credits");
  });

  it("sends 50 % and 70 % once each when one charge crosses both", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await account("jump", hook.url);
    await spend("jump", "jump-1", 15); // 75 %: crosses 20, 50, 70 (and the 75 % prompt has no channel)
    await settled("jump", 5); // webhooks 20/50/70, emails 50/70
    const mails = smtp.messages.filter((m) => JSON.stringify(m.to).includes("admin@jump.example")).map((m) => m.subject).sort();
    expect(mails).toEqual(["You have used 50% of your credits", "You have used 70% of your credits"]);
    expect(thresholds(hook)).toEqual([20, 50, 70]);

    const banners = await call(platform.clients.notifications, platform.clients.notifications.listBanners, { accountId: "jump", includeDismissed: false });
    expect(banners.banners.map((b) => b.rule).sort()).toEqual(["usage_20", "usage_50", "usage_70"]);
    await hook.stop();
  });

  it("takes the 'used all of your credits' banner down when a top-up gives room again, and puts it up and tells the admins again at the next crossing", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await account("topped", hook.url);
    const { ledger, notifications } = platform.clients;
    const shown = async () => (await call(notifications, notifications.listBanners, { accountId: "topped", includeDismissed: false })).banners.map((b) => b.rule).sort();
    await spend("topped", "topped-1", 20); // 100 %
    await eventually(async () => ((await shown()).includes("usage_100") ? true : undefined), 8_000, "the 100 % banner");
    await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "topped", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(100 * CREDIT), reason: "top-up", actor: "support", idempotencyKey: "top-up",
    }));
    // 100 of 200 used: 100 %, 90 %, 80 % and 70 % no longer hold; 20 % and 50 % still do.
    await eventually(async () => (JSON.stringify(await shown()) === JSON.stringify(["usage_20", "usage_50"]) ? true : undefined), 8_000, "the banners of the top-up");
    await spend("topped", "topped-2", 20); // 200 of 200
    await eventually(async () => ((await shown()).includes("usage_100") ? true : undefined), 8_000, "the 100 % banner again");
    // Each crossing is told: the 70–100 % webhooks and the 70–90 % emails come again (they were dropped as repeats of the first).
    const mails90 = () => smtp.messages.filter((m) => JSON.stringify(m.to).includes("admin@topped.example") && m.subject === "You have used 90% of your credits");
    await eventually(async () => (thresholds(hook).filter((t) => t === 100).length === 2 && mails90().length === 2 ? true : undefined), 8_000, "the 100 % webhook and the 90 % email again");
    expect(thresholds(hook)).toEqual([100, 100, 20, 50, 70, 70, 80, 80, 90, 90]);
    await hook.stop();
  });

  it("retries a failing receiver with backoff and delivers the event once, logging the attempts", async () => {
    const hook = await startWebhookReceiver(SECRET, 3);
    await account("flaky", hook.url);
    await spend("flaky", "flaky-1", 11); // 55 %
    const rows = await settled("flaky", 3);
    const hooks = rows.filter((r) => r.channel === N.Channel.CHANNEL_WEBHOOK);
    expect(hooks.reduce((sum, r) => sum + r.attempts, 0)).toBe(hooks.length + 3); // 3 failures, then one success each
    expect(new Set(hook.received.map((w) => w.id)).size).toBe(hook.received.length);
    expect(hook.received).toHaveLength(hooks.length);
    await hook.stop();
  });

  it("dead-letters after the last attempt and sends again on a manual resend", async () => {
    const hook = await startWebhookReceiver(SECRET, 1_000);
    await account("dead", hook.url);
    await spend("dead", "dead-1", 5); // 25 %: the 20 % webhook
    const dead = await eventually(async () => {
      const rows = await log("dead");
      const usage = rows.find((r) => r.rule === "usage_20");
      return usage?.status === N.DeliveryStatus.DELIVERY_STATUS_DEAD_LETTER ? usage : undefined;
    }, 8_000, "a dead letter");
    expect(dead).toMatchObject({ attempts: 5, lastError: expect.stringContaining("HTTP 500") });
    expect(hook.received).toHaveLength(0);

    hook.heal();
    const { notifications } = platform.clients;
    const resent = await call(notifications, notifications.resendNotification, { notificationId: dead!.notificationId, actor: "support@example.com", reason: "receiver fixed" });
    expect(resent.notification?.status).toBe(N.DeliveryStatus.DELIVERY_STATUS_PENDING);
    // The resend is audited under the notification's account, although the request names only the notification.
    const audit = await CallAuditLog.open(db.url);
    const audited = (await audit.list({ accountId: resent.notification!.accountId, limit: 100 })).filter((r) => r.rpc.endsWith("/ResendNotification"));
    await audit.close();
    expect(audited).toEqual([expect.objectContaining({ principal: platform.principal, reason: "receiver fixed", outcome: "OK", accountId: "dead" })]);
    const delivered = await eventually(async () => {
      const row = (await log("dead")).find((r) => r.notificationId === dead!.notificationId);
      return row?.status === N.DeliveryStatus.DELIVERY_STATUS_DELIVERED ? row : undefined;
    }, 8_000, "the resent webhook");
    expect(delivered.attempts).toBe(6);
    expect(hook.received.map((w) => w.id)).toEqual([dead!.notificationId]);
    await hook.stop();
  });

  it("alerts and prompts on a plan that sets no thresholds at the defaults, and not at all on one that sets empty ones", async () => {
    const { entitlements } = platform.clients;
    const publish = (planId: string, thresholds?: entitlementsV1.NotificationThresholds) => call(entitlements, entitlements.publishPlan, {
      plan: entitlementsV1.Plan.fromPartial({
        planId, name: planId, rateTableId: "default",
        allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(100 * CREDIT), buckets: [commonV1.Bucket.BUCKET_AI] }],
        ...(thresholds ? { thresholds } : {}),
      }),
      actor: "test", reason: "seed",
    });
    const { plan } = await publish("unthresholded");
    expect(plan!.thresholds).toEqual({ bannerPercents: [20, 50, 70, 80, 90, 100], emailPercents: [50, 70, 80, 90], upgradePromptPercent: 75, referralPromptPercent: 50 });
    await publish("silent", entitlementsV1.NotificationThresholds.fromPartial({}));
    for (const [accountId, planId] of [["defaults", "unthresholded"], ["quiet", "silent"]] as const) {
      await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
        accountId, name: accountId, planId, seats: 2, adminEmails: [`admin@${accountId}.example`],
      }));
      await spend(accountId, `${accountId}-1`, 11); // 55 of 100 credits
    }
    const emails = await eventually(async () => {
      const listed = (await log("defaults")).filter((n) => n.channel === N.Channel.CHANNEL_EMAIL);
      return listed.length > 0 ? listed : undefined;
    }, 10_000, "the 50 % email");
    expect(emails.map((n) => n.rule)).toEqual(["usage_50"]);
    const banners = async (accountId: string) =>
      (await call(platform.clients.notifications, platform.clients.notifications.listBanners, { accountId, includeDismissed: false })).banners.map((b) => b.rule).sort();
    expect(await banners("defaults")).toEqual(["referral_prompt", "usage_20", "usage_50"]);
    const prompts = async (accountId: string) => {
      const { showUpgradePrompt, showReferralPrompt } = await call(platform.clients.notifications, platform.clients.notifications.listBanners, { accountId, includeDismissed: false });
      return { showUpgradePrompt, showReferralPrompt };
    };
    expect(await prompts("defaults")).toEqual({ showUpgradePrompt: false, showReferralPrompt: true }); // 55 % used: referral at 50, upgrade at 75
    // The ledger's events are delivered in order: once the default plan's email is out, the silent plan's account has had its turn.
    expect(await log("quiet")).toEqual([]);
    expect(await banners("quiet")).toEqual([]);
    expect(await prompts("quiet")).toEqual({ showUpgradePrompt: false, showReferralPrompt: false });
  });

  it("loses no alert and sends none twice when the notifications service is down during a burst", async () => {
    const hook = await startWebhookReceiver(SECRET);
    await account("burst", hook.url);
    await platform.notifications.stop();
    await spend("burst", "burst-1", 5); // 25 %
    await spend("burst", "burst-2", 6); // 55 %
    await spend("burst", "burst-3", 4); // 75 %
    const restarted = await startNotificationsService({
      databaseUrl: db.url, port: 0, poolMax: 4, ledgerAddress: platform.ledger.address, entitlementsAddress: platform.entitlements.address,
      smtpUrl: smtp.url, deliveryPollMs: 100, retryBaseMs: 50, maxAttempts: 5, webhookAllowedNetworks: ["127.0.0.0/8"], auth: platform.auth, ...platform.serviceCredentials("notifications"),
    });
    platform.notifications = restarted;
    const second = await startNotificationsService({
      databaseUrl: db.url, port: 0, poolMax: 4, ledgerAddress: platform.ledger.address, entitlementsAddress: platform.entitlements.address,
      smtpUrl: smtp.url, deliveryPollMs: 100, retryBaseMs: 50, maxAttempts: 5, webhookAllowedNetworks: ["127.0.0.0/8"], auth: platform.auth, ...platform.serviceCredentials("notifications"),
    });
    const client = createClient(N.NotificationsServiceClient, restarted.address, platform.serviceCredentials("support-desk"));
    try {
      await settled("burst", 5, client); // webhooks 20/50/70, emails 50/70 — from two replicas at once
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(thresholds(hook)).toEqual([20, 50, 70]);
      expect(hook.received).toHaveLength(3);
      expect(smtp.messages.filter((m) => JSON.stringify(m.to).includes("admin@burst.example"))).toHaveLength(2);
      const banners = await call(client, client.listBanners, { accountId: "burst", includeDismissed: false });
      expect(banners.banners.map((b) => b.rule).sort()).toEqual(["usage_20", "usage_50", "usage_70"]);
      expect(banners.statusIcon).toBe(2); // yellow: exactly 25 % left (red is below 25 %)
      expect(banners.willRunOutBeforeCycleEnd).toBe(false); // three charges within seconds: too little history
    } finally {
      client.close();
      await second.stop();
      await hook.stop();
    }
  });
});
