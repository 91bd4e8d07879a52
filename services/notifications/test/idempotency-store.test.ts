import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdempotencyKeyReusedError } from "@tollgate/errors";
import { openDatabase, PostgresIdempotencyStore, requestHash, sql, type KeyedCall, type MikroORM } from "@tollgate/db";
import { mikroOrmScope } from "@tollgate/grpc-kit";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { BannerSchema, ConsumerOffsetSchema } from "../src/data/banner.entity.js";
import { DeliverySchema, PreferencesSchema } from "../src/data/delivery.entity.js";
import { migrations } from "../src/data/migrations/index.js";
import { IDEMPOTENCY_KEYS, PostgresNotificationsStore } from "../src/data/notifications-store.js";

const entities = [BannerSchema, ConsumerOffsetSchema, DeliverySchema, PreferencesSchema];
let db: TestDatabase;
let orm: MikroORM;
let store: PostgresNotificationsStore;
let keys: PostgresIdempotencyStore;
let scope: ReturnType<typeof mikroOrmScope>;
const NOTIFICATION = "00000000-0000-4000-8000-000000000001";

const keyed = (key: string, request: Record<string, unknown>, accountId = "acme"): KeyedCall =>
  ({ scope: accountId, key, operation: "resend_notification", requestHash: requestHash(request, "resend_notification") });
const attempts = async () =>
  (await scope(() => sql<{ attempts: number; status: string }>(orm.em.getContext(), `select attempts, status from notifications.deliveries where notification_id = ?`, [NOTIFICATION])))[0]!;

beforeAll(async () => {
  db = await createTestDatabase();
  // A database made by the migrations before the keys', with a delivered notification in it.
  const earlier = await openDatabase({ url: db.url, schema: "notifications", entities, migrations: migrations.filter((m) => m.name < "Migration20261204120000"), poolMax: 2 });
  await sql(earlier.em.fork(), `insert into notifications.deliveries (notification_id, account_id, channel, recipient, rule, dedup_key, payload, status, attempts, delivered_at)
    values (?, 'acme', 'webhook', 'https://hooks.example/acme', 'usage_50', 'acme:usage_50', '{}'::jsonb, 'delivered', 1, now())`, [NOTIFICATION]);
  await earlier.close();
  orm = await openDatabase({ url: db.url, schema: "notifications", entities, migrations, poolMax: 4 });
  store = new PostgresNotificationsStore(() => orm.em.getContext());
  keys = new PostgresIdempotencyStore(() => orm.em.getContext(), IDEMPOTENCY_KEYS);
  scope = mikroOrmScope(orm.em);
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

describe("the idempotency keys of support changes, on PostgreSQL", () => {
  it("upgrades a database with notifications in it: they stay, and the keys start empty", async () => {
    expect(await attempts()).toEqual({ attempts: 1, status: "delivered" });
    const keys = await scope(() => sql<{ count: number }>(orm.em.getContext(), `select count(*)::int as count from notifications.idempotency_keys`));
    expect(keys[0]!.count).toBe(0);
  });

  it("makes the change once for calls with one key sent at once, each answering the one change, in the change's transaction", async () => {
    const request = { notificationId: NOTIFICATION, actor: "support", reason: "lost" };
    let changes = 0;
    const resend = () =>
      scope(() =>
        keys.once(keyed("k-concurrent", request), async () => {
          changes++;
          const delivery = await store.resend(NOTIFICATION);
          return { status: delivery!.status, attempts: delivery!.attempts };
        }),
      );
    const answers = await Promise.all([resend(), resend(), resend()]);
    expect(changes).toBe(1);
    expect(answers.map((a) => a.answer)).toEqual([{ status: "pending", attempts: 1 }, { status: "pending", attempts: 1 }, { status: "pending", attempts: 1 }]);
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    expect(await attempts()).toEqual({ attempts: 1, status: "pending" });
  });

  it("refuses the key for another request, keeps keys per account, and leaves a key free when its change fails", async () => {
    await expect(scope(() => keys.once(keyed("k-concurrent", { notificationId: NOTIFICATION, actor: "support", reason: "other" }), async () => "changed"))).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    // Another account's key of the same name is its own.
    expect(await scope(() => keys.once(keyed("k-concurrent", { reason: "other" }, "globex"), async () => "globex's"))).toEqual({ answer: "globex's", replayed: false });

    await expect(scope(() => keys.once(keyed("k-fails", { reason: "x" }), async () => {
      await store.resend(NOTIFICATION);
      throw new Error("refused");
    }))).rejects.toThrow("refused");
    expect(await scope(() => keys.once(keyed("k-fails", { reason: "y" }), async () => "free"))).toEqual({ answer: "free", replayed: false });
  });

  it("prunes keys older than the retention, 1000 at a time, and keeps the others", async () => {
    await scope(() => sql(orm.em.getContext(), `update notifications.idempotency_keys set created_at = now() - interval '8 days' where idempotency_key = 'k-fails'`));
    expect(await scope(() => keys.prune(7 * 86_400_000, 1_000))).toBe(1);
    const left = await scope(() => sql<{ key: string }>(orm.em.getContext(), `select idempotency_key as key from notifications.idempotency_keys order by 1`));
    expect(left.map((r) => r.key)).toEqual(["k-concurrent", "k-concurrent"]);
    // A pruned key is free again.
    expect(await scope(() => keys.once(keyed("k-fails", { reason: "z" }), async () => "again"))).toEqual({ answer: "again", replayed: false });
  });
});
