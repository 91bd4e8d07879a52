import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type MikroORM } from "@tollgate/db";
import { mikroOrmScope } from "@tollgate/grpc-kit";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { BannerSchema, ConsumerOffsetSchema } from "../src/data/banner.entity.js";
import { EmailChannel, type EmailMessage } from "../src/data/channels/email.js";
import { WebhookChannel } from "../src/data/channels/webhook.js";
import { DeliverySchema, PreferencesSchema } from "../src/data/delivery.entity.js";
import { DeliveryWorker } from "../src/data/delivery-worker.js";
import { migrations } from "../src/data/migrations/index.js";
import { PostgresNotificationsStore } from "../src/data/notifications-store.js";
import { decide, runOutWarning, type DeliveryDraft, type LedgerEventFacts, type Recipients } from "../src/domain/rules.js";
import { PLAN_RULES } from "../src/domain/rules.fixture.js";

const SECRET = `whsec_${Buffer.from("a-webhook-secret-for-the-tests").toString("base64")}`;
const DEADLINE_MS = 3_000;
let db: TestDatabase;
let orm: MikroORM;
let store: PostgresNotificationsStore;
let scope: ReturnType<typeof mikroOrmScope>;
const servers: Server[] = [];

/** A receiver on loopback: `trickle` answers a byte every 50 ms and never ends, `fail` 500 at once, else 204 at once. */
async function receiver(trickle: boolean, fail = false): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((request, response) => {
    requests++;
    request.resume();
    if (fail) return void response.writeHead(500).end();
    if (!trickle) return void response.writeHead(204).end();
    response.writeHead(200);
    const drip = setInterval(() => response.write("."), 50);
    response.on("close", () => clearInterval(drip));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, requests: () => requests };
}

/** An SMTP server that answers every command up to the message's end, which it never answers: a send that never ends. */
async function stallingSmtpServer() {
  let dataSent = false;
  let closed = false;
  const sockets: Socket[] = [];
  const server = createTcpServer((socket) => {
    sockets.push(socket);
    let inData = false;
    let buffered = "";
    socket.on("close", () => (closed = true));
    socket.on("error", () => undefined);
    socket.write("220 stalling ESMTP\r\n");
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      if (inData) {
        dataSent ||= buffered.includes("\r\n.\r\n");
        return;
      }
      for (let end = buffered.indexOf("\r\n"); end >= 0 && !inData; end = buffered.indexOf("\r\n")) {
        const command = buffered.slice(0, end).toUpperCase();
        buffered = buffered.slice(end + 2);
        if (command.startsWith("EHLO")) socket.write("250 stalling\r\n");
        else if (command === "DATA") {
          inData = true;
          socket.write("354 go on\r\n");
        } else socket.write("250 ok\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dataSent: () => dataSent,
    closed: () => closed,
    stop: () => new Promise<void>((resolve) => (sockets.forEach((socket) => socket.destroy()), server.close(() => resolve()))),
  };
}

const draft = (channel: DeliveryDraft["channel"], recipient: string, rule: string): DeliveryDraft => ({
  accountId: "acme", channel, recipient, rule, dedupKey: `acme:${rule}:${recipient}`,
  payload: { type: "usage.threshold_crossed", subject: "You have used 50% of your credits", text: "55%", data: {} },
});
const record = (sequence: bigint, deliveries: DeliveryDraft[]) =>
  scope(() => store.recordEvent("test", sequence, { banners: [], deliveries }, { traceId: "", traceparent: "" }));
const row = async (recipient: string) => (await scope(() => store.deliveries({ accountId: "acme", limit: 100 }))).map(({ item }) => item).find((d) => d.recipient === recipient)!;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openDatabase({ url: db.url, schema: "notifications", entities: [BannerSchema, ConsumerOffsetSchema, DeliverySchema, PreferencesSchema], migrations, poolMax: 4 });
  store = new PostgresNotificationsStore(() => orm.em.getContext());
  scope = mikroOrmScope(orm.em);
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await orm?.close();
  await db?.drop();
});

describe("the delivery worker", () => {
  it("sends and records other deliveries, those claimed with a slow webhook and after it, while the slow one runs to its deadline", async () => {
    const slow = await receiver(true);
    const fast = await receiver(false);
    const emailed: EmailMessage[] = [];
    const email = { send: async (message: EmailMessage) => void emailed.push(message) } as unknown as EmailChannel;
    const worker = new DeliveryWorker(
      store,
      scope,
      { email, webhook: new WebhookChannel({ allowedNetworks: ["127.0.0.0/8"], timeoutMs: DEADLINE_MS }) },
      async () => SECRET,
      { pollMs: 50, leaseMs: 30_000, retryBaseMs: 60_000, maxAttempts: 5 },
    );
    try {
      // One claim: the trickling webhook and an email.
      await record(1n, [draft("webhook", slow.url, "usage_20"), draft("email", "ops@acme.example", "usage_50")]);
      worker.start();
      await eventually(async () => (slow.requests() === 1 && (await row("ops@acme.example")).status === "delivered" ? true : undefined), 2_000, "the email beside the slow webhook");

      // Recorded while the slow webhook is still being answered: sent now, not when it ends.
      const recordedAt = Date.now();
      await record(2n, [draft("webhook", fast.url, "usage_70"), draft("email", "billing@acme.example", "usage_70")]);
      worker.wake();
      await eventually(async () => {
        const [hook, mail] = [await row(fast.url), await row("billing@acme.example")];
        return hook.status === "delivered" && mail.status === "delivered" ? true : undefined;
      }, DEADLINE_MS, "the deliveries recorded after the slow webhook");
      expect(Date.now() - recordedAt).toBeLessThan(DEADLINE_MS / 2);
      expect((await row(slow.url)).status).toBe("sending");
      expect(emailed.map((m) => m.to)).toEqual(["ops@acme.example", "billing@acme.example"]);

      // The slow one fails at its deadline, with an error saying so, and is retried later.
      const failed = await eventually(async () => {
        const slowRow = await row(slow.url);
        return slowRow.status === "failed" ? slowRow : undefined;
      }, DEADLINE_MS * 2, "the slow webhook's failure");
      expect(failed.lastError).toMatch(/^no complete answer from 127\.0\.0\.1:\d+ within 3000 ms$/);
      expect(failed.attempts).toBe(1);
    } finally {
      await worker.stop();
    }
  });
});

describe("the delivery worker's claims", () => {
  const worker = (email: EmailChannel | undefined, options: Partial<ConstructorParameters<typeof DeliveryWorker>[4]> = {}) =>
    new DeliveryWorker(
      store,
      scope,
      { ...(email ? { email } : {}), webhook: new WebhookChannel({ allowedNetworks: ["127.0.0.0/8"], timeoutMs: DEADLINE_MS }) },
      async () => SECRET,
      { pollMs: 50, leaseMs: 30_000, retryBaseMs: 60_000, maxAttempts: 5, ...options },
    );

  it("keeps a send slower than its lease claimed, so a second replica does not send it again", async () => {
    const sent: string[] = [];
    // Each email takes three leases to send, as over an SMTP server that answers every command slowly.
    const slowEmail = { send: async (message: EmailMessage) => void (await new Promise((resolve) => setTimeout(resolve, 900)), sent.push(message.to)) } as unknown as EmailChannel;
    const replicas = [worker(slowEmail, { leaseMs: 300 }), worker(slowEmail, { leaseMs: 300 })];
    try {
      await record(60n, [draft("email", "slow@acme.example", "usage_80")]);
      for (const replica of replicas) replica.start();
      await eventually(async () => ((await row("slow@acme.example")).status === "delivered" ? true : undefined), 5_000, "the slow email delivered");
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // time for a second send, were the row claimed again
      expect(sent).toEqual(["slow@acme.example"]);
      expect((await row("slow@acme.example")).attempts).toBe(1);
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it("gives up a send still running at its deadline: the attempt fails, to be retried, its slot is free and its connection closed", async () => {
    // An SMTP server that takes the message and never answers its end (as one answering just inside each socket timeout).
    const server = await stallingSmtpServer();
    const replica = worker(new EmailChannel(server.url, "Tollgate <notifications@tollgate.local>"), { leaseMs: 300, sendDeadlineMs: 700 });
    try {
      await record(64n, [draft("email", "endless@acme.example", "usage_80")]);
      replica.start();
      const failed = await eventually(async () => {
        const current = await row("endless@acme.example");
        return current.status === "failed" ? current : undefined;
      }, 5_000, "the endless send failed at its deadline");
      expect(failed).toMatchObject({ attempts: 1, lastError: "the send took longer than 700 ms: given up, to be tried again" });
      expect(server.dataSent()).toBe(true);
      // Closed by the worker, not left to nodemailer's 15 s socket timeout.
      await eventually(async () => (server.closed() ? true : undefined), 2_000, "the abandoned send's connection closed");
    } finally {
      await replica.stop();
      await server.stop();
    }
  });

  it("leaves emails pending on a replica without an SMTP server, for one that has one, and sends its webhooks", async () => {
    const hook = await receiver(false);
    await record(61n, [draft("email", "later@acme.example", "usage_90"), draft("webhook", hook.url, "usage_90")]);
    const withoutSmtp = worker(undefined, { retryBaseMs: 10, maxAttempts: 2 });
    withoutSmtp.start();
    try {
      await eventually(async () => ((await row(hook.url)).status === "delivered" ? true : undefined), 3_000, "the webhook");
      await new Promise((resolve) => setTimeout(resolve, 300)); // many polls: the email would have used up its 2 attempts
      expect(await row("later@acme.example")).toMatchObject({ status: "pending", attempts: 0, lastError: "" });
    } finally {
      await withoutSmtp.stop();
    }
    const emailed: string[] = [];
    const withSmtp = worker({ send: async (message: EmailMessage) => void emailed.push(message.to) } as unknown as EmailChannel);
    withSmtp.start();
    try {
      await eventually(async () => ((await row("later@acme.example")).status === "delivered" ? true : undefined), 3_000, "the email, sent by a replica with SMTP");
      expect(emailed).toEqual(["later@acme.example"]);
    } finally {
      await withSmtp.stop();
    }
  });

  it("gives a resent dead letter its retries afresh, and keeps counting its attempts", async () => {
    const failing = await receiver(false, true);
    const replica = worker(undefined, { retryBaseMs: 10, maxAttempts: 3 });
    replica.start();
    try {
      await record(62n, [draft("webhook", failing.url, "usage_100")]);
      const dead = async () => {
        const stored = await row(failing.url);
        return stored.status === "dead_letter" ? stored : undefined;
      };
      expect((await eventually(dead, 3_000, "the dead letter")).attempts).toBe(3);
      const { notificationId } = await row(failing.url);
      await scope(() => store.resend(notificationId));
      replica.wake();
      // Three more tries with backoff, not one.
      await eventually(async () => ((await row(failing.url)).attempts === 6 ? true : undefined), 3_000, "three more attempts");
      expect((await eventually(dead, 3_000, "the dead letter again")).attempts).toBe(6);
      expect(failing.requests()).toBe(6);
    } finally {
      await replica.stop();
    }
  });
});

describe("a delivery's claim", () => {
  it("records only the outcome of the claim that holds the row: a send that outlived its lease changes nothing", async () => {
    await record(50n, [draft("webhook", "https://hooks.acme.example/leased", "usage_90")]);
    const claim = async () => (await scope(() => store.claimDue(100, 1, ["webhook"]))).find((d) => d.recipient === "https://hooks.acme.example/leased")!;
    const first = await claim();
    await new Promise((resolve) => setTimeout(resolve, 20)); // the 1 ms lease runs out
    const second = await claim();
    expect([first.attempts, second.attempts]).toEqual([1, 2]);

    expect(await scope(() => store.markDelivered(second.notificationId, second.attempts))).toBe(true);
    // The first send ends late, failed: recording it would turn a delivered row back to failed and send it again.
    expect(await scope(() => store.markFailed(first.notificationId, first.attempts, "timed out", new Date()))).toBe(false);
    expect(await scope(() => store.markDelivered(first.notificationId, first.attempts))).toBe(false);
    const stored = await row("https://hooks.acme.example/leased");
    expect([stored.status, stored.attempts, stored.lastError]).toEqual(["delivered", 2, ""]);
  });
});

describe("the notification log", () => {
  it("pages newest first, each delivery once, while new deliveries are recorded", async () => {
    const paged = (drafts: DeliveryDraft[]) => drafts.map((d) => ({ ...d, accountId: "pager", dedupKey: `pager:${d.dedupKey}` }));
    // One event's deliveries share a transaction and its creation time: the cursor's tie-break (account, id) orders them.
    await record(10n, paged([draft("email", "a@pager.example", "usage_20"), draft("email", "b@pager.example", "usage_20"), draft("email", "c@pager.example", "usage_20")]));
    const list = (after?: Parameters<typeof store.deliveries>[0]["after"]) => scope(() => store.deliveries({ accountId: "pager", limit: 2, ...(after ? { after } : {}) }));
    const first = await list();
    await record(11n, paged([draft("email", "d@pager.example", "usage_50")]));
    const second = await list(first[1]!.cursor);
    expect([...first, ...second].map(({ item }) => item.recipient).sort()).toEqual(["a@pager.example", "b@pager.example", "c@pager.example"]);
    expect((await list()).map(({ item }) => item.recipient)[0]).toBe("d@pager.example");
  });
});

describe("banners across cycles", () => {
  const nobody: Recipients = { emails: [], adminEmails: [], webhooks: [], channelsByRule: {} };
  const decided = (sequence: bigint, facts: LedgerEventFacts) =>
    scope(() => store.recordEvent("test", sequence, decide(facts, PLAN_RULES, nobody), { traceId: "", traceparent: "" }));
  const shownFor = (accountId: string) => async () => (await scope(() => store.banners(accountId, false))).map((b) => b.rule).sort();

  it("takes down what a crossing put up when usage falls back below its threshold, and puts it up again at the next crossing", async () => {
    const shown = shownFor("topped-up");
    const cycle = "2026-11-01T00:00:00.000Z";
    const crossed = (thresholdPercent: number) => ({ kind: "threshold_crossed" as const, accountId: "topped-up", sequence: 0n, unit: "credits" as const, thresholdPercent, percentUsed: thresholdPercent, cycle });
    await decided(200n, crossed(50));
    await decided(201n, crossed(100));
    expect(await shown()).toEqual(["referral_prompt", "usage_100", "usage_50"]);
    // A top-up: 100 % is no longer reached, 50 % still is.
    await decided(202n, { kind: "usage_receded", accountId: "topped-up", unit: "credits", thresholdPercents: [100], percentUsed: 60, cycle });
    expect(await shown()).toEqual(["referral_prompt", "usage_50"]);
    await decided(203n, crossed(100));
    expect(await shown()).toEqual(["referral_prompt", "usage_100", "usage_50"]);
    // One the user dismissed stays dismissed.
    const [fifty] = (await scope(() => store.banners("topped-up", false))).filter((b) => b.rule === "usage_50");
    await scope(() => store.dismiss(fifty!.bannerId, "user"));
    await decided(204n, crossed(50));
    expect(await shown()).toEqual(["referral_prompt", "usage_100"]);
    // Until usage falls back below its threshold and reaches it again: a new crossing, told again (its email too), shown again.
    await decided(205n, { kind: "usage_receded", accountId: "topped-up", unit: "credits", thresholdPercents: [50], percentUsed: 40, cycle });
    await decided(206n, crossed(50));
    expect(await shown()).toEqual(["referral_prompt", "usage_100", "usage_50"]);
  });

  it("applies no banner change of an event older than the one that last changed the banner (a second replica handling it late)", async () => {
    const shown = shownFor("two-replicas");
    const cycle = "2026-11-01T00:00:00.000Z";
    const crossed = { kind: "threshold_crossed" as const, accountId: "two-replicas", sequence: 300n, unit: "credits" as const, thresholdPercent: 100, percentUsed: 100, cycle };
    const receded = { kind: "usage_receded" as const, accountId: "two-replicas", unit: "credits" as const, thresholdPercents: [100], percentUsed: 60, cycle };
    // One replica handles the crossing and the top-up after it.
    await decided(300n, crossed);
    expect(await shown()).toContain("usage_100");
    await decided(301n, receded);
    expect(await shown()).not.toContain("usage_100");
    // The other handles the crossing only now: the banner stays down.
    await decided(300n, crossed);
    expect(await shown()).not.toContain("usage_100");
    // A later crossing puts it up again.
    await decided(302n, crossed);
    expect(await shown()).toContain("usage_100");
  });

  it("takes down the previous cycle's banners when a new cycle starts, the fixed 100 % one too, and keeps a budget's and 'free credits expired'", async () => {
    const crossed = (cycle: string, thresholdPercent: number) => ({ kind: "threshold_crossed" as const, accountId: "cycler", sequence: 0n, unit: "credits" as const, thresholdPercent, percentUsed: thresholdPercent, cycle });
    const november = "2026-11-01T00:00:00.000Z";
    const december = "2026-12-01T00:00:00.000Z";
    await decided(100n, crossed(november, 50)); // a dismissible banner and the referral prompt
    await decided(101n, crossed(november, 100)); // the fixed one
    await scope(() => store.recordEvent("test", 102n, runOutWarning("cycler", november, new Date("2026-11-20T00:00:00Z"), new Date(december), nobody), { traceId: "", traceparent: "" }));
    await decided(103n, { kind: "pool_expired", accountId: "cycler", poolId: "p-1", poolKind: "free_grant", unit: "credits", expiredMicros: 5n });
    await decided(104n, {
      kind: "budget_crossed", accountId: "cycler", sequence: 104n, budgetId: "credits/agent/bot", unit: "credits", scope: "agent", scopeId: "bot", mode: "hard",
      thresholdPercent: 100, percentUsed: 100, usedMicros: 10n, limitMicros: 10n,
    });
    const shown = shownFor("cycler");
    expect(await shown()).toEqual(["budget_100", "free_credits_expired", "referral_prompt", "run_out_warning", "usage_100", "usage_50"]);

    await decided(105n, { kind: "cycle_started", accountId: "cycler", cycle: december });
    expect(await shown()).toEqual(["budget_100", "free_credits_expired"]);
    const taken = (await scope(() => store.banners("cycler", true))).filter((b) => b.rule.startsWith("usage_"));
    expect(taken.map((b) => b.dismissedBy)).toEqual(["ledger", "ledger"]);
    // The new cycle's crossings put theirs up again; the same event read twice takes down nothing of the new cycle.
    await decided(106n, crossed(december, 50));
    await decided(105n, { kind: "cycle_started", accountId: "cycler", cycle: december });
    expect(await shown()).toEqual(["budget_100", "free_credits_expired", "referral_prompt", "usage_50"]);
  });
});
