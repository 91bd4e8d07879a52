import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { call, createClient, errorDetails, ROLES } from "@tollgate/grpc-kit";
import { commonV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase, TEST_PRINCIPAL, testIssuer } from "@tollgate/testing";
import { startPricingService, type PricingService } from "../src/index.js";

const { Unit, Bucket } = commonV1;

let db: TestDatabase;
let service: PricingService;
let client: pricingV1.PricingServiceClient;
let issuer: Awaited<ReturnType<typeof testIssuer>>;

const replyRate = (model: string, credits: number): pricingV1.Rate => ({
  bucket: Bucket.BUCKET_AI,
  unit: Unit.UNIT_CREDITS,
  kind: { $case: "modelReply", modelReply: { model, microsPerReply: String(credits * 1_000_000) } },
});

const replies = (model: string, n: number): pricingV1.Usage => ({ kind: { $case: "modelReply", modelReply: { model, replies: String(n) } } });

beforeAll(async () => {
  db = await createTestDatabase();
  issuer = await testIssuer();
  service = await startPricingService({ databaseUrl: db.url, port: 0, auth: issuer.auth });
  client = createClient(pricingV1.PricingServiceClient, service.address, { credentials: issuer.credential(TEST_PRINCIPAL, ROLES) });
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await db?.drop();
});

describe("pricing over gRPC", () => {
  it("quotes a reply from the version in effect, and a rate scheduled for tomorrow does not change today's quote", async () => {
    const v1 = await call(client, client.publishRateTable, {
      tableId: "t1", rates: [replyRate("gpt-4o", 5)], actor: "test", reason: "initial", idempotencyKey: "", effectiveFrom: new Date(Date.now() - 1000),
    });
    await call(client, client.publishRateTable, {
      tableId: "t1", rates: [replyRate("gpt-4o", 7)], actor: "test", reason: "price rise", idempotencyKey: "", effectiveFrom: new Date(Date.now() + 86_400_000),
    });
    const today = await call(client, client.quote, { tableId: "t1", usage: [replies("gpt-4o", 3)], version: "0", at: undefined });
    expect(today.lineItems[0]?.amountMicros).toBe("15000000");
    expect(today.rateTableVersion).toBe(v1.table!.version);

    const tomorrow = await call(client, client.quote, { tableId: "t1", usage: [replies("gpt-4o", 3)], version: "0", at: new Date(Date.now() + 2 * 86_400_000) });
    expect(tomorrow.lineItems[0]?.amountMicros).toBe("21000000");

    const pinned = await call(client, client.quote, { tableId: "t1", usage: [replies("gpt-4o", 1)], version: v1.table!.version, at: undefined });
    expect(pinned.lineItems[0]?.amountMicros).toBe("5000000");
  });

  it("checks a dated version against the versions as they are at its turn: one published meanwhile counts", async () => {
    await call(client, client.publishRateTable, { tableId: "turns", rates: [replyRate("gpt-4o", 5)], actor: "test", reason: "", idempotencyKey: "", effectiveFrom: new Date(Date.now() - 60_000) });
    // Another publisher has the table's turn: a version dated 30 s ago is checked (and passes) before it waits for it.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      await sql.query(`begin`);
      await sql.query(`select pg_advisory_xact_lock(hashtext('pricing.rate_table:' || 'turns'))`);
      const dated = call(client, client.publishRateTable, { tableId: "turns", rates: [replyRate("gpt-4o", 6)], actor: "test", reason: "", idempotencyKey: "", effectiveFrom: new Date(Date.now() - 30_000) })
        .catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The other publisher's version, in effect from now, commits first.
      await sql.query(
        `insert into pricing.rate_table_versions (table_id, version, effective_from, published_by, rates) values ('turns', 2, clock_timestamp(), 'other', '[]'::jsonb)`,
      );
      await sql.query(`commit`);
      expect(errorDetails(await dated)).toMatchObject({ code: 9, reason: "EFFECTIVE_FROM_BEFORE_VERSION_IN_EFFECT" });
    } finally {
      await sql.end();
    }
  });

  it("answers NOT_FOUND naming an unknown model and INVALID_ARGUMENT naming a negative quantity", async () => {
    await call(client, client.publishRateTable, { tableId: "t2", rates: [replyRate("haiku", 2)], actor: "test", reason: "", idempotencyKey: "", effectiveFrom: undefined });
    const unknown = await call(client, client.quote, { tableId: "t2", usage: [replies("nope", 1)], version: "0", at: undefined }).catch((e) => e);
    expect(errorDetails(unknown)).toMatchObject({ code: 5, message: expect.stringContaining("nope") });
    const negative = await call(client, client.quote, { tableId: "t2", usage: [replies("haiku", -1)], version: "0", at: undefined }).catch((e) => e);
    const details = errorDetails(negative);
    expect(details.code).toBe(3);
    expect(details.fieldViolations[0]?.field).toBe("usage[0].model_reply.replies");
  });

  it("streams published versions to a watcher", async () => {
    const stream = client.watchRateTables({ afterVersion: "0", afterSequence: "0" });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (message: pricingV1.WatchRateTablesResponse) => {
        if (!message.table) return; // a heartbeat
        seen.push(message.table.tableId);
        if (message.table.tableId === "t3") {
          // The newest version so far, and the stream has caught up: it says so.
          expect(message.latestSequence).toBe(message.table.sequence);
          resolve();
        }
      });
      stream.on("error", reject);
      void call(client, client.publishRateTable, { tableId: "t3", rates: [replyRate("x", 1)], actor: "test", reason: "", idempotencyKey: "", effectiveFrom: undefined });
    });
    stream.cancel();
    expect(seen).toContain("t1");
    expect(seen).toContain("t3");
  });
});

describe("rate table history", () => {
  it("lists versions with pagination, reads the version in effect at a time, and diffs two versions", async () => {
    const publish = (credits: number, extra: pricingV1.Rate[] = [], effectiveFrom = new Date(Date.now() - 1000)) =>
      call(client, client.publishRateTable, { tableId: "hist", rates: [replyRate("gpt-4o", credits), ...extra], actor: "test", reason: "", idempotencyKey: "", effectiveFrom });
    const v1 = await publish(1, [], new Date("2026-01-01T00:00:00Z"));
    const v2 = await publish(2, [replyRate("haiku", 1)], new Date("2026-06-01T00:00:00Z"));
    const v3 = await publish(3, [], new Date(Date.now() + 86_400_000));
    // Before the version in effect (v2; v3 is scheduled): refused, naming the field, and nothing published.
    const backDated = await publish(4, [], new Date("2026-05-01T00:00:00Z")).catch((e: unknown) => e);
    expect(errorDetails(backDated)).toMatchObject({
      code: 9, reason: "EFFECTIVE_FROM_BEFORE_VERSION_IN_EFFECT", metadata: { field: "effective_from", version_in_effect: "2" }, message: expect.stringContaining("in effect since 2026-06-01"),
    });

    // Numbered per table: other tables published before "hist" do not push its numbers up.
    expect([v1, v2, v3].map((v) => v.table!.version)).toEqual(["1", "2", "3"]);
    const first = await call(client, client.listRateTableVersions, { tableId: "hist", page: { pageSize: 2, pageToken: "" } });
    expect(first.tables.map((t) => t.version)).toEqual([v1.table!.version, v2.table!.version]);
    const second = await call(client, client.listRateTableVersions, { tableId: "hist", page: { pageSize: 2, pageToken: first.nextPageToken } });
    expect(second.tables.map((t) => t.version)).toEqual([v3.table!.version]);
    expect(second.nextPageToken).toBe("");

    const march = await call(client, client.getRateTable, { tableId: "hist", version: "0", at: new Date("2026-03-01T00:00:00Z"), sequence: "0" });
    expect(march.table?.version).toBe(v1.table!.version);

    const diff = await call(client, client.diffRateTables, { tableId: "hist", fromVersion: v1.table!.version, toVersion: v2.table!.version });
    expect(diff.changes.map((c) => c.key)).toEqual(["model:gpt-4o", "model:haiku"]);
    expect(diff.changes[1]?.before).toBeUndefined();

    const pinned = await call(client, client.getRateTable, { tableId: "hist", version: "2", at: undefined, sequence: "0" });
    expect(pinned.table?.sequence).toBe(v2.table!.sequence);
    const missing = await call(client, client.getRateTable, { tableId: "hist", version: "4", at: undefined, sequence: "0" }).catch((e: unknown) => e);
    expect(errorDetails(missing)).toMatchObject({ code: 5, message: expect.stringContaining("hist@4") });
  });

  it("rejects a table with two rates for the same model, naming the duplicate", async () => {
    const error = await call(client, client.publishRateTable, {
      tableId: "dup", rates: [replyRate("gpt-4o", 1), replyRate("gpt-4o", 2)], actor: "test", reason: "", idempotencyKey: "", effectiveFrom: undefined,
    }).catch((e: unknown) => e);
    expect(errorDetails(error)).toMatchObject({ code: 3, fieldViolations: [{ field: "rates[1]" }] });
  });

  it("refuses a negative or out-of-range price for a configuration value, naming the value, and publishes nothing", async () => {
    const block = (microsPerRunByValue: Record<string, string>): pricingV1.Rate => ({
      bucket: Bucket.BUCKET_AI,
      unit: Unit.UNIT_CREDITS,
      kind: { $case: "block", block: { block: "ai-text", microsPerRun: "1000000", configurationKey: "model", microsPerRunByValue } },
    });
    for (const [value, micros] of [["haiku", "-1"], ["gpt-4o", "1000000000000001"]] as const) {
      const error = await call(client, client.publishRateTable, {
        tableId: "by-value", rates: [block({ [value]: micros })], actor: "test", reason: "", idempotencyKey: "", effectiveFrom: undefined,
      }).catch((e: unknown) => e);
      expect(errorDetails(error)).toMatchObject({ code: 3, fieldViolations: [{ field: `rates[0].block.micros_per_run_by_value["${value}"]` }] });
    }
    const none = await call(client, client.getRateTable, { tableId: "by-value", version: "0", at: undefined, sequence: "0" }).catch((e: unknown) => e);
    expect(errorDetails(none)).toMatchObject({ code: 5 });
  });
});

describe("PublishRateTable under an idempotency key", () => {
  const publish = (tableId: string, idempotencyKey: string, credits = 4) =>
    call(client, client.publishRateTable, {
      tableId, rates: [replyRate("gpt-4o", credits)], actor: "test", reason: "retry", idempotencyKey, effectiveFrom: new Date("2026-01-01T00:00:00Z"),
    });
  const versions = async (tableId: string) =>
    (await call(client, client.listRateTableVersions, { tableId, page: { pageSize: 100, pageToken: "" } })).tables.map((t) => t.version);

  it("publishes once when retried with the same key and request, and answers the retry as the first call", async () => {
    const first = await publish("keyed", "publish-keyed-1");
    const retry = await publish("keyed", "publish-keyed-1");
    expect(retry).toEqual(first);
    expect(await versions("keyed")).toEqual(["1"]);
    // Another key is another publish.
    expect((await publish("keyed", "publish-keyed-2")).table?.version).toBe("2");
  });

  it("refuses the same key with another request as ALREADY_EXISTS IDEMPOTENCY_KEY_REUSED, naming the key, and publishes nothing", async () => {
    await publish("reused", "publish-reused");
    const error = await publish("reused", "publish-reused", 9).catch((e: unknown) => e);
    expect(errorDetails(error)).toMatchObject({
      code: 6, reason: "IDEMPOTENCY_KEY_REUSED", message: expect.stringContaining("publish-reused"), metadata: { idempotency_key: "publish-reused" },
    });
    expect(await versions("reused")).toEqual(["1"]);
  });

  it("makes one version of repeats sent at once", async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, () => publish("concurrent", "publish-concurrent")));
    expect(new Set(answers.map((a) => a.table?.sequence)).size).toBe(1);
    expect(await versions("concurrent")).toEqual(["1"]);
  });

  it("still publishes every call without a key", async () => {
    await publish("unkeyed", "");
    await publish("unkeyed", "");
    expect(await versions("unkeyed")).toEqual(["1", "2"]);
  });

  it("forgets a key once its record is older than the retention", async () => {
    const first = await publish("pruned", "publish-pruned");
    expect(await publish("pruned", "publish-pruned")).toEqual(first);
    // A second instance on the same database that keeps answers for a millisecond prunes the record.
    const pruning = await startPricingService({ databaseUrl: db.url, port: 0, auth: issuer.auth, idempotencyRetentionMs: 1, idempotencyPruneIntervalMs: 20 });
    try {
      const later = await eventually(async () => {
        const again = await publish("pruned", "publish-pruned");
        return again.table?.version === first.table?.version ? undefined : again;
      }, 10_000, "the key to be pruned");
      expect(later.table?.version).toBe("2");
    } finally {
      await pruning.stop();
    }
  });
});
