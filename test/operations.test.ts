import { execFileSync } from "node:child_process";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import pg from "pg";
import { call } from "@tollgate/grpc-kit";
import { startNotificationsService, type NotificationsService } from "@tollgate/notifications";
import { ledgerV1, notificationsV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { authorizeRequest, readEvents, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";
import { startSmtpSink } from "./sinks.js";

let db: TestDatabase;
let platform: Platform;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let client: pg.Client;

/** A flow on `account`: two holds, a charge that crosses the 20 % and 50 % thresholds (an email), a denial. */
async function usage(account: string) {
  await seedStarter(platform, account);
  const { ledger } = platform.clients;
  const hold = await call(ledger, ledger.authorize, authorizeRequest(account, `${account}-a`, 2));
  await call(ledger, ledger.authorize, authorizeRequest(account, `${account}-b`, 2));
  await call(ledger, ledger.authorize, authorizeRequest(account, `${account}-denied`, 100));
  await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: account, holdId: hold.holdId, usage: replies("gpt-4o", 12), final: true, idempotencyKey: `${account}-charge` }));
}

const latest = async () => Number((await call(platform.clients.ledger, platform.clients.ledger.getLatestEventSequence, {})).sequence);
const consumedOffset = async () => Number((await client.query(`select sequence from notifications.consumer_offsets where consumer = 'notifications'`)).rows[0]?.sequence ?? 0);

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { smtpUrl: smtp.url });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await usage("acme");
  await usage("globex");
});

afterAll(async () => {
  await client?.end();
  await platform?.stop();
  await smtp?.stop();
  await db?.drop();
});

it("prunes consumed outbox events past their retention, and a consumer resuming from its offset still gets every event after it", async () => {
  const last = await latest();
  await eventually(async () => ((await consumedOffset()) === last ? true : undefined), 10_000, "notifications consumed every event");
  const offset = Math.floor(last / 2); // a consumer that stopped half way
  const after = await readEvents(platform, offset, last - offset);
  expect(after.map((e) => Number(e.sequence))).toEqual(Array.from({ length: last - offset }, (_, i) => offset + 1 + i));

  // Every event is older than the retention (7 days by default): the ledger's sweep prunes them all but the latest.
  await client.query(`update ledger.outbox set created_at = now() - interval '8 days'`);
  const remaining = await eventually(async () => {
    const { rows } = await client.query(`select sequence::int from ledger.outbox order by sequence`);
    return rows.length === 1 ? rows.map((r) => r.sequence) : undefined;
  }, 10_000, "the outbox pruned");
  expect(remaining).toEqual([last]);
  expect(await latest()).toBe(last); // GetLatestEventSequence still answers
  // A consumer asking to resume from before what was pruned is told so, not handed a gap.
  await expect(readEvents(platform, offset, 1)).rejects.toMatchObject({ code: status.FAILED_PRECONDITION, details: expect.stringContaining("after_sequence") });

  // New events keep their sequence after the pruned ones; a consumer resuming at the latest offset gets each of them.
  await usage("initech");
  const newest = await latest();
  expect(newest).toBeGreaterThan(last);
  const resumed = await readEvents(platform, last, newest - last);
  expect(resumed.map((e) => Number(e.sequence))).toEqual(Array.from({ length: newest - last }, (_, i) => last + 1 + i));
  // Notifications, resuming from its own offset, consumed them all.
  await eventually(async () => ((await consumedOffset()) === newest ? true : undefined), 10_000, "notifications consumed the new events");
});

it("keeps the outbox rows a registered consumer has not acknowledged, however old, until it acknowledges them", async () => {
  const { ledger } = platform.clients;
  const acknowledge = async (consumer: string, through: number) =>
    Number((await call(ledger, ledger.acknowledgeEvents, { consumer, throughSequence: String(through) })).throughSequence);
  const before = await latest();
  // A second consumer, registered by its first acknowledgement, stops at `before`.
  expect(await acknowledge("analytics", before)).toBe(before);
  await usage("umbrella");
  const newest = await latest();
  expect(newest).toBeGreaterThan(before + 1);
  await eventually(async () => ((await consumedOffset()) === newest ? true : undefined), 10_000, "notifications consumed every event");
  await eventually(async () => {
    const { rows } = await client.query(`select acknowledged_through::int as through from ledger.outbox_consumers where consumer = 'notifications'`);
    return rows[0]?.through === newest ? true : undefined;
  }, 10_000, "notifications acknowledged every event");

  // Every row is past the retention, and notifications acknowledged them all: the ones after `before` stay for analytics.
  await client.query(`update ledger.outbox set created_at = now() - interval '30 days'`);
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // five sweeps
  const kept = (await client.query(`select sequence::int from ledger.outbox order by sequence`)).rows.map((r) => r.sequence);
  expect(kept).toEqual(Array.from({ length: newest - before }, (_, i) => before + 1 + i));
  const resumed = await readEvents(platform, before, newest - before);
  expect(resumed.map((e) => Number(e.sequence))).toEqual(Array.from({ length: newest - before }, (_, i) => before + 1 + i));

  // An acknowledgement only moves forward, and never past the latest event.
  expect(await acknowledge("analytics", 1)).toBe(before);
  await expect(acknowledge("", 1)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("consumer") });
  expect(await acknowledge("analytics", newest + 1_000)).toBe(newest);
  const remaining = await eventually(async () => {
    const { rows } = await client.query(`select sequence::int from ledger.outbox order by sequence`);
    return rows.length === 1 ? rows.map((r) => r.sequence) : undefined;
  }, 10_000, "the outbox pruned once analytics caught up");
  expect(remaining).toEqual([newest]);
});

it("prunes delivered notifications past their retention and keeps the rest", async () => {
  const delivered = await eventually(async () => {
    const { rows } = await client.query(`select notification_id from notifications.deliveries where status = 'delivered' order by notification_id`);
    return rows.length >= 2 ? rows.map((r) => r.notification_id as string) : undefined;
  }, 10_000, "emails delivered");
  const [old, ...recent] = delivered;
  expect(recent.length).toBeGreaterThan(0);
  await client.query(`update notifications.deliveries set delivered_at = now() - interval '31 days' where notification_id = $1`, [old]);
  // A dead letter as old as it: only delivered rows are pruned.
  await client.query(`insert into notifications.deliveries (account_id, channel, recipient, rule, dedup_key, payload, status, created_at)
                      values ('acme', 'email', 'x@example.com', 'test', 'retention-pending', '{}', 'dead_letter', now() - interval '31 days')`);

  // A second notifications replica whose pruner runs often (the default is hourly, keeping 30 days).
  const replica: NotificationsService = await startNotificationsService({
    databaseUrl: db.url,
    port: 0,
    poolMax: 2,
    ledgerAddress: platform.ledger.address,
    entitlementsAddress: platform.entitlements.address,
    auth: platform.auth,
    pruneIntervalMs: 50,
    ...platform.serviceCredentials("notifications"),
  });
  try {
    const left = await eventually(async () => {
      const { rows } = await client.query(`select notification_id, status from notifications.deliveries`);
      return rows.some((r) => r.notification_id === old) ? undefined : rows;
    }, 10_000, "the old delivered row pruned");
    // The recently delivered ones stay (more may have been delivered meanwhile).
    expect(left.filter((r) => r.status === "delivered").map((r) => r.notification_id)).toEqual(expect.arrayContaining(recent));
    expect(left.some((r) => r.status === "dead_letter")).toBe(true);
    const log = await call(platform.clients.notifications, platform.clients.notifications.listNotifications, { accountId: "acme", page: { pageSize: 100, pageToken: "" }, traceId: "" });
    expect(log.notifications.some((n) => n.notificationId === old)).toBe(false);
    expect(log.notifications.some((n) => n.status === notificationsV1.DeliveryStatus.DELIVERY_STATUS_DEAD_LETTER)).toBe(true);
  } finally {
    await replica.stop();
  }
});

it("restores a pg_dump of the running platform into a fresh database, where the services find the same balances", async () => {
  const balances = async (p: Platform) =>
    Promise.all(["acme", "globex", "initech"].map((accountId) => call(p.clients.ledger, p.clients.ledger.getBalance, { accountId })));
  const before = await balances(platform);
  expect(before.every((b) => b.units.length > 0)).toBe(true);

  const dump = execFileSync("pg_dump", ["--format=custom", "--dbname", db.url], { maxBuffer: 256 * 1024 * 1024 });
  const restored = await createTestDatabase();
  try {
    execFileSync("pg_restore", ["--no-owner", "--exit-on-error", "--dbname", restored.url], { input: dump });
    const copy = await startPlatform(restored.url);
    try {
      expect(await balances(copy)).toEqual(before);
      expect(Number((await call(copy.clients.ledger, copy.clients.ledger.getLatestEventSequence, {})).sequence)).toBe(await latest());
    } finally {
      await copy.stop();
    }
  } finally {
    await restored.drop();
  }
});
