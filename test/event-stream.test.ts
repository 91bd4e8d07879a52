import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { call } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { startNotificationsService } from "@tollgate/notifications";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { readEvents, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
let sql: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "stream-seed");
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await platform?.stop();
  await db?.drop();
});

/** Rows with no contract case: the ledger streams them with no kind, and consumers only advance past them. */
const filler = (count: number) =>
  sql.query(`insert into ledger.outbox (account_id, kind, payload) select 'filler', 'filler', '{}'::jsonb from generate_series(1, $1)`, [count]);

const outboxSize = async () => Number((await sql.query<{ n: string }>(`select count(*)::text as n from ledger.outbox`)).rows[0]!.n);

describe("the ledger's event stream", () => {
  it("delivers a backlog of more than 1,000 events across digit boundaries in order, each once, to StreamEvents and to notifications", async () => {
    const { entitlements, ledger } = platform.clients;
    await platform.notifications.stop();

    // Real threshold crossings around each digit boundary (9/10, 99/100, 999/1000) and at the end of the backlog.
    const crossers: string[] = [];
    for (const boundary of [9, 99, 999, 1_205]) {
      await filler(boundary - 1 - (await outboxSize()));
      const accountId = `crosser-${boundary}`;
      await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
        accountId, name: accountId, planId: "starter", seats: 1, adminEmails: [],
      }));
      await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId, usage: replies("gpt-4o", 5), final: true, idempotencyKey: `${accountId}-1` })); // 25 %
      crossers.push(accountId);
    }
    const total = await outboxSize();
    expect(total).toBeGreaterThan(1_200);

    const events = await readEvents(platform, 0, total);
    const sequences = events.map((e) => Number(e.sequence));
    expect(sequences).toEqual(Array.from({ length: total }, (_, i) => i + 1)); // strictly increasing, none missing, none twice
    expect(events.filter((e) => e.kind?.$case === "thresholdCrossed").map((e) => e.accountId)).toEqual(crossers);

    // From an offset in the middle of the backlog, too.
    const tail = await readEvents(platform, 995, total - 995);
    expect(tail.map((e) => Number(e.sequence))).toEqual(Array.from({ length: total - 995 }, (_, i) => 996 + i));

    // The notifications consumer reads the same backlog from its stored offset: every crossing becomes its banner.
    platform.notifications = await startNotificationsService({
      databaseUrl: db.url, port: 0, poolMax: 4, ledgerAddress: platform.ledger.address, entitlementsAddress: platform.entitlements.address,
      deliveryPollMs: 100, auth: platform.auth, ...platform.serviceCredentials("notifications"),
    });
    await eventually(async () => {
      const row = (await sql.query<{ sequence: string }>(`select sequence::text from notifications.consumer_offsets where consumer = 'notifications'`)).rows[0];
      return row && Number(row.sequence) === total ? row : undefined;
    }, 60_000, "the notifications consumer at the end of the backlog");
    for (const accountId of crossers) {
      const banners = await sql.query<{ rule: string }>(`select rule from notifications.banners where account_id = $1 and rule = 'usage_20'`, [accountId]);
      expect(banners.rows, accountId).toHaveLength(1);
    }
  }, 90_000);

  it("tells a consumer where the stream ends: the last event of a backlog says the latest sequence, and a caught-up stream sends a heartbeat saying it at once", async () => {
    const { ledger } = platform.clients;
    const latest = BigInt((await call(ledger, ledger.getLatestEventSequence, {})).sequence);
    expect(latest).toBeGreaterThan(1n);
    const first = async (after: bigint) => {
      const stream = ledger.streamEvents({ afterSequence: String(after) });
      return new Promise<ledgerV1.StreamEventsResponse>((resolve, reject) => {
        stream.on("data", (message: ledgerV1.StreamEventsResponse) => {
          stream.cancel();
          resolve(message);
        });
        stream.on("error", (error: Error & { code?: number }) => error.code !== 1 && reject(error));
      });
    };
    expect(await first(latest - 1n)).toMatchObject({ event: { sequence: String(latest) }, latestSequence: String(latest) });
    const heartbeat = await first(latest);
    expect(heartbeat.event).toBeUndefined();
    expect(heartbeat.latestSequence).toBe(String(latest));
  });
});
