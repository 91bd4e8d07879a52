import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { call, createClient, errorDetails, ROLES } from "@tollgate/grpc-kit";
import { startLedgerService, type LedgerService } from "@tollgate/ledger";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { meterStream as openMeterStream, type MeterResponse } from "./meter-stream.js";
import { startPlatform, type Platform } from "./platform.js";

/** How long a broken stream's hold waits here (the default is 30 s). */
const GRACE_MS = 1_500;

let db: TestDatabase;
let platform: Platform;
/** A second ledger replica on the same database: a stream on one learns of charges made through the other. */
let replica: LedgerService;
let replicaClient: ledgerV1.LedgerServiceClient;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { meterGraceMs: GRACE_MS });
  await seedStarter(platform, "meter-drain");
  for (const accountId of ["meter-suspend", "meter-replay", "meter-close", "meter-grace", "meter-listen", "meter-expiry", "meter-rules", "meter-limited", "meter-long-id", "meter-prefix"]) {
    await call(platform.clients.entitlements, platform.clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({
      accountId, name: accountId, planId: "starter", seats: 1, adminEmails: ["admin@example.com"],
    }));
  }
  replica = await startLedgerService({
    databaseUrl: db.url, port: 0, poolMax: 4, entitlementsAddress: platform.entitlements.address, pricingAddress: platform.pricing.address,
    sweepIntervalMs: 0, meterIntervalMs: 0, reconcileIntervalMs: 0, meterGraceMs: GRACE_MS, auth: platform.auth, ...platform.serviceCredentials("ledger"),
  });
  replicaClient = createClient(ledgerV1.LedgerServiceClient, replica.address, platform.serviceCredentials(platform.principal, ROLES));
});

afterAll(async () => {
  replicaClient?.close();
  await replica?.stop();
  await platform?.stop();
  await db?.drop();
});

type Response = MeterResponse;

/** A Meter stream as a caller drives it (test/meter-stream.ts), on the platform's ledger unless another is named. */
const meterStream = (client: ledgerV1.LedgerServiceClient = platform.clients.ledger) => openMeterStream(client);

const balanceOf = async (accountId: string) => {
  const { ledger } = platform.clients;
  const units = (await call(ledger, ledger.getBalance, { accountId })).units;
  const credits = units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!;
  return { balance: BigInt(credits.balanceMicros), held: BigInt(credits.heldMicros) };
};

const holdOf = async (holdId: string) => {
  const { ledger } = platform.clients;
  return (await call(ledger, ledger.getHold, { holdId })).hold!;
};

const stopReason = (response: Response) => (response.kind?.$case === "stop" ? response.kind.stop.reason : undefined);

describe("Meter", () => {
  it("stops a streamed response within one increment when a caller on another replica drains the balance while it is idle", async () => {
    const stream = meterStream();
    stream.open("meter-drain", "drain-1", 1);
    const opened = await stream.next();
    expect(opened.kind).toMatchObject({ $case: "opened", opened: { allowed: true, amountMicros: String(5 * CREDIT) } });
    stream.increment(1, 1); // uses the whole hold
    expect((await stream.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: "1", chargedMicros: String(5 * CREDIT), proceed: true } });

    // Another caller, through the other replica, charges the remaining 95 credits.
    const drained = await call(replicaClient, replicaClient.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "meter-drain", usage: replies("gpt-4o", 19), final: true, idempotencyKey: "drain-other",
    }));
    expect(drained).toMatchObject({ chargedMicros: String(95 * CREDIT), proceed: false });

    // The idle stream hears of it without sending anything.
    const startedAt = Date.now();
    const stop = await stream.next(2_000);
    expect(stopReason(stop)).toBe(ledgerV1.MeterStopReason.METER_STOP_REASON_NEGATIVE_LIMIT);
    expect(Date.now() - startedAt).toBeLessThan(1_000);

    // The next increment cannot be collected and says so.
    stream.increment(2, 1);
    expect((await stream.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: "2", chargedMicros: "0", uncollectedMicros: String(5 * CREDIT), proceed: false } });
    stream.close();
    expect((await stream.next()).kind).toMatchObject({ $case: "closed", closed: { totalChargedMicros: String(5 * CREDIT) } });
    expect(await stream.finished()).toBeUndefined();
    expect(stream.received.filter((r) => r.kind?.$case === "stop")).toHaveLength(1);
  });

  it("stops an idle stream within a second of support suspending the account", async () => {
    const stream = meterStream(replicaClient);
    stream.open("meter-suspend", "suspend-1", 2);
    expect((await stream.next()).kind?.$case).toBe("opened");
    const support = createClient(entitlementsV1.EntitlementsServiceClient, platform.entitlements.address, platform.serviceCredentials("desk", ["support"]));
    try {
      const suspendedAt = Date.now();
      await call(support, support.setAccountControls, {
        accountId: "meter-suspend", status: entitlementsV1.AccountStatus.ACCOUNT_STATUS_SUSPENDED, limits: [], reason: "unpaid invoice", idempotencyKey: "",
      });
      const stop = await stream.next(2_000);
      expect(stopReason(stop)).toBe(ledgerV1.MeterStopReason.METER_STOP_REASON_ACCOUNT_SUSPENDED);
      expect(Date.now() - suspendedAt).toBeLessThan(1_000);
    } finally {
      support.close();
      stream.cancel();
    }
  });

  it("charges each increment once when a reconnect replays them, and answers the replays as recorded", async () => {
    const first = meterStream();
    first.open("meter-replay", "replay-1", 2);
    const opened = await first.next();
    const holdId = opened.kind?.$case === "opened" ? opened.kind.opened.holdId : "";
    const answers: Response[] = [];
    for (let sequence = 1; sequence <= 3; sequence++) {
      first.increment(sequence, 1);
      answers.push(await first.next());
    }
    first.cancel(); // the connection breaks

    // The caller reconnects (here to the other replica) with the same open and replays what it is not sure of.
    const second = meterStream(replicaClient);
    second.open("meter-replay", "replay-1", 2);
    expect((await second.next()).kind).toMatchObject({ $case: "opened", opened: { holdId } });
    for (let sequence = 1; sequence <= 3; sequence++) {
      second.increment(sequence, 1);
      const replayed = await second.next();
      const original = answers[sequence - 1]!.kind;
      expect(replayed.kind).toMatchObject({ $case: "charged", charged: { ...(original?.$case === "charged" ? original.charged : {}), replayed: true } });
    }
    second.increment(4, 1);
    expect((await second.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: "4", replayed: false, chargedMicros: String(5 * CREDIT) } });
    // Within one stream a sequence already sent is answered again, not charged.
    second.increment(2, 1);
    expect((await second.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: "2", replayed: true } });
    second.close();
    expect((await second.next()).kind).toMatchObject({ $case: "closed", closed: { totalChargedMicros: String(20 * CREDIT) } });

    // Four increments of one reply each, once each, in the journal and the balance.
    const { ledger } = platform.clients;
    const entries = (await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "meter-replay", holdId }))).entries;
    expect(entries.filter((e) => e.kind === ledgerV1.EntryKind.ENTRY_KIND_CHARGE && e.amountMicros !== "0").map((e) => e.amountMicros)).toEqual(Array(4).fill(String(5 * CREDIT)));
    expect(await balanceOf("meter-replay")).toEqual({ balance: BigInt(80 * CREDIT), held: 0n });
  });

  it("posts the final charge on close and releases the rest of the hold", async () => {
    const stream = meterStream();
    stream.open("meter-close", "close-1", 10); // 50 credits held
    const opened = await stream.next();
    const holdId = opened.kind?.$case === "opened" ? opened.kind.opened.holdId : "";
    stream.increment(1, 2);
    await stream.next();
    expect(await balanceOf("meter-close")).toEqual({ balance: BigInt(90 * CREDIT), held: BigInt(40 * CREDIT) });
    stream.close(1);
    expect((await stream.next()).kind).toMatchObject({
      $case: "closed", closed: { totalChargedMicros: String(15 * CREDIT), finalChargedMicros: String(5 * CREDIT), releasedMicros: String(35 * CREDIT) },
    });
    expect(await stream.finished()).toBeUndefined();
    expect(await holdOf(holdId)).toMatchObject({ status: ledgerV1.HoldStatus.HOLD_STATUS_CHARGED, chargedMicros: String(15 * CREDIT) });
    expect(await balanceOf("meter-close")).toEqual({ balance: BigInt(85 * CREDIT), held: 0n });
  });

  it("releases the hold after the grace period when the close's final charge is refused, as for a broken stream (it was kept to its ttl)", async () => {
    const stream = meterStream();
    stream.open("meter-close", "close-refused", 4);
    const opened = await stream.next();
    const holdId = opened.kind?.$case === "opened" ? opened.kind.opened.holdId : "";
    stream.write({ kind: { $case: "close", close: ledgerV1.MeterClose.fromPartial({ usage: replies("gpt-4o", 1), occurredAt: new Date(Date.now() + 7 * 86_400_000) }) } });
    expect(errorDetails(await stream.finished())).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "close.occurred_at" }] });
    const released = await eventually(async () => {
      const hold = await holdOf(holdId);
      return hold.status === ledgerV1.HoldStatus.HOLD_STATUS_RELEASED ? hold : undefined;
    }, GRACE_MS + 3_000, "the hold released after the grace period");
    expect(released.chargedMicros).toBe("0");
  });

  it("refuses a caller's Charge keyed like a stream's write (`meter:<work>:<sequence>`), so the work's stream still charges its first increment", async () => {
    const { ledger } = platform.clients;
    const refused = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "meter-prefix", usage: replies("gpt-4o", 1), final: true, idempotencyKey: "meter:prefix-1:1",
    })).catch((e: unknown) => e);
    expect(errorDetails(refused)).toMatchObject({ code: status.INVALID_ARGUMENT, fieldViolations: [{ field: "idempotency_key" }] });
    expect(await balanceOf("meter-prefix")).toEqual({ balance: BigInt(100 * CREDIT), held: 0n });
    const stream = meterStream();
    stream.open("meter-prefix", "prefix-1", 2);
    expect((await stream.next()).kind?.$case).toBe("opened");
    stream.increment(1, 1);
    expect((await stream.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: "1", chargedMicros: String(5 * CREDIT), proceed: true } });
    stream.close();
    expect((await stream.next()).kind).toMatchObject({ $case: "closed", closed: { totalChargedMicros: String(5 * CREDIT) } });
    expect(await stream.finished()).toBeUndefined();
  });

  it("keys a stream of a work id as long as ids may be (128 characters): it opens, charges and closes", async () => {
    const stream = meterStream();
    stream.open("meter-long-id", "w".repeat(128), 10);
    expect((await stream.next()).kind?.$case).toBe("opened");
    stream.increment(1, 2);
    expect((await stream.next()).kind).toMatchObject({ $case: "charged" });
    stream.close(1);
    expect((await stream.next()).kind).toMatchObject({ $case: "closed", closed: { totalChargedMicros: String(15 * CREDIT), releasedMicros: String(35 * CREDIT) } });
    expect(await stream.finished()).toBeUndefined();
    expect(await balanceOf("meter-long-id")).toEqual({ balance: BigInt(85 * CREDIT), held: 0n });
  });

  it("keeps a broken stream's hold to its ttl, not releasing it after the grace period, when the replica may have missed a reopen (its LISTEN connection was lost)", async () => {
    const broken = meterStream();
    broken.open("meter-listen", "listen-1", 4);
    const opened = await broken.next();
    const holdId = opened.kind?.$case === "opened" ? opened.kind.opened.holdId : "";
    broken.cancel();
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS / 4));
    // The replicas' LISTEN connections are cut (a database failover, a network blip): a reopen sent now is not heard.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const cut = await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'tollgate-listen' and datname = current_database()`);
      expect(cut.rowCount).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS * 2));
    expect((await holdOf(holdId)).status).toBe(ledgerV1.HoldStatus.HOLD_STATUS_OPEN);
  });

  it("releases a broken stream's unused hold after the grace period, unless the work reopens first", async () => {
    const kept = meterStream();
    kept.open("meter-grace", "grace-kept", 4);
    const keptHold = (await kept.next()).kind;
    kept.cancel();
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS / 4));
    const reopened = meterStream(replicaClient); // a reconnect within the grace period, on the other replica
    reopened.open("meter-grace", "grace-kept", 4);
    expect((await reopened.next()).kind).toMatchObject({ $case: "opened", opened: { holdId: keptHold?.$case === "opened" ? keptHold.opened.holdId : "-" } });

    const broken = meterStream();
    broken.open("meter-grace", "grace-broken", 4); // 20 credits held
    const opened = await broken.next();
    const holdId = opened.kind?.$case === "opened" ? opened.kind.opened.holdId : "";
    broken.increment(1, 1);
    await broken.next();
    broken.cancel();
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS / 2));
    expect((await holdOf(holdId)).status).toBe(ledgerV1.HoldStatus.HOLD_STATUS_OPEN);
    const released = await eventually(async () => {
      const hold = await holdOf(holdId);
      return hold.status === ledgerV1.HoldStatus.HOLD_STATUS_RELEASED ? hold : undefined;
    }, GRACE_MS + 3_000, "the broken stream's hold released");
    expect(released.chargedMicros).toBe(String(5 * CREDIT));

    // Reopened after the grace period: replays are answered as recorded, new usage needs a new work id.
    const late = meterStream();
    late.open("meter-grace", "grace-broken", 4);
    expect((await late.next()).kind).toMatchObject({ $case: "opened", opened: { holdId } });
    late.increment(1, 1);
    expect((await late.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: "1", replayed: true } });
    late.increment(2, 1);
    expect(errorDetails(await late.finished())).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "HOLD_CLOSED" });

    // The reopened work still holds its 20 credits well after the first stream's grace period.
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS));
    expect((await holdOf(keptHold?.$case === "opened" ? keptHold.opened.holdId : "")).status).toBe(ledgerV1.HoldStatus.HOLD_STATUS_OPEN);
    expect(await balanceOf("meter-grace")).toEqual({ balance: BigInt(95 * CREDIT), held: BigInt(20 * CREDIT) });
    reopened.close();
    await reopened.next();
  });

  it("stops at the hold's expiry", async () => {
    const stream = meterStream();
    stream.open("meter-expiry", "expiry-1", 1, 600);
    expect((await stream.next()).kind?.$case).toBe("opened");
    const stop = await stream.next(3_000);
    expect(stopReason(stop)).toBe(ledgerV1.MeterStopReason.METER_STOP_REASON_HOLD_EXPIRED);
    stream.cancel();
  });

  it("refuses a stream that skips a sequence, does not open first, or opens another account's work", async () => {
    const skipping = meterStream();
    skipping.open("meter-rules", "rules-1", 1);
    await skipping.next();
    skipping.increment(1, 1);
    await skipping.next();
    skipping.increment(3, 1);
    expect(errorDetails(await skipping.finished())).toMatchObject({ code: status.INVALID_ARGUMENT, metadata: { field: "increment.sequence" } });
    // A stream's first increment starts the work at 1, or resumes it where an earlier stream left off: 2 follows the charged 1,
    // 4 would skip the never-charged 3 (on new work, 2 skips 1). Each was charged as the next before.
    for (const [workId, first, refused] of [["rules-1", 4, true], ["rules-new", 2, true], ["rules-1", 2, false]] as const) {
      const reopened = meterStream();
      reopened.open("meter-rules", workId, 1);
      expect((await reopened.next()).kind?.$case).toBe("opened");
      reopened.increment(first, 1);
      if (refused) {
        expect(errorDetails(await reopened.finished())).toMatchObject({ code: status.INVALID_ARGUMENT, metadata: { field: "increment.sequence" } });
      } else {
        expect((await reopened.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: String(first), replayed: false } });
        reopened.cancel();
      }
    }

    const unopened = meterStream();
    unopened.increment(1, 1);
    expect(errorDetails(await unopened.finished())).toMatchObject({ code: status.INVALID_ARGUMENT, metadata: { field: "increment" } });

    const limited = createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, {
      credentials: platform.issuer!.credential("agent-runtime", ["meter"], { accounts: ["meter-rules"] }),
    });
    try {
      const elsewhere = meterStream(limited);
      elsewhere.open("meter-drain", "rules-2", 1);
      expect(errorDetails(await elsewhere.finished())).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ACCOUNT_NOT_PERMITTED" });
      const own = meterStream(limited);
      own.open("meter-rules", "rules-3", 1);
      expect((await own.next()).kind).toMatchObject({ $case: "opened", opened: { allowed: true } });
      own.close();
      expect((await own.next()).kind?.$case).toBe("closed");
    } finally {
      limited.close();
    }
  });

  it("counts each increment against the caller's rate limit as a Charge: an empty bucket ends the stream with RESOURCE_EXHAUSTED and RetryInfo, and a reconnect charges the refused increment once", async () => {
    // A ledger replica where this caller may make 4 calls (the bucket does not refill within the test), on the same database.
    const limited = await startLedgerService({
      databaseUrl: db.url, port: 0, poolMax: 2, entitlementsAddress: platform.entitlements.address, pricingAddress: platform.pricing.address,
      sweepIntervalMs: 0, meterIntervalMs: 0, reconcileIntervalMs: 0, meterGraceMs: GRACE_MS, auth: platform.auth, ...platform.serviceCredentials("ledger"),
      rateLimit: { perSecond: 0.001, burst: 4 },
    });
    const client = createClient(ledgerV1.LedgerServiceClient, limited.address, platform.serviceCredentials(platform.principal, ROLES));
    try {
      const first = meterStream(client);
      first.open("meter-limited", "limited-1", 10); // the stream's admission: call 1
      expect((await first.next()).kind?.$case).toBe("opened");
      for (let sequence = 1; sequence <= 3; sequence++) {
        first.increment(sequence, 1); // calls 2, 3, 4
        expect((await first.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: String(sequence), chargedMicros: String(5 * CREDIT) } });
      }
      first.increment(4, 1); // call 5: the bucket is empty
      const refused = await first.finished();
      expect(refused?.code).toBe(status.RESOURCE_EXHAUSTED);
      const details = errorDetails(refused);
      expect(details.reason).toBe("RATE_LIMITED");
      expect(details.retryDelayMs).toBeGreaterThan(0);
      // The same bucket as unary calls: a Charge now is refused the same way.
      const charge = await call(client, client.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "meter-limited", usage: replies("gpt-4o", 1), final: true, idempotencyKey: "limited-unary" })).catch((e: unknown) => e);
      expect(errorDetails(charge)).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "RATE_LIMITED" });
    } finally {
      client.close();
      await limited.stop();
    }
    // The refused increment was not charged: a reconnect (here on the replica without a limit) charges it now, once.
    const second = meterStream();
    second.open("meter-limited", "limited-1", 10);
    expect((await second.next()).kind?.$case).toBe("opened");
    second.increment(4, 1);
    expect((await second.next()).kind).toMatchObject({ $case: "charged", charged: { sequence: "4", replayed: false, chargedMicros: String(5 * CREDIT) } });
    second.close();
    expect((await second.next()).kind).toMatchObject({ $case: "closed", closed: { totalChargedMicros: String(4 * 5 * CREDIT) } });
  });
});
