import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionPool, openDatabase, type MikroORM } from "@tollgate/db";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import type { Command, RollOverCommand } from "../domain/commands.js";
import { execute } from "../domain/state-machine.js";
import { ledgerEntities } from "./entities.js";
import { migrations } from "./migrations/index.js";
import { PostgresLedgerStateStore, type PgClient, type PgPool } from "./state-store.js";

const CREDIT = 1_000_000n;
const T0 = Date.UTC(2026, 10, 1);
const FACTS = { suspended: false, drawdownOrder: ["free_grant", "bonus", "add_on"], thresholdPercents: [50, 90] };

/**
 * A pool whose clients count the queries they send: one query is one round
 * trip to PostgreSQL. One wrapper per connection, as the pool hands out the
 * same client for the same connection (the store keeps what each has prepared).
 */
function counting(pool: PgPool): { pool: PgPool; sent: string[] } {
  const sent: string[] = [];
  const wrappers = new Map<PgClient, PgClient>();
  return {
    sent,
    pool: {
      async connect(): Promise<PgClient> {
        const client = await pool.connect();
        let wrapper = wrappers.get(client);
        if (!wrapper) {
          wrapper = {
            query: (text: string, valuesOrCallback?: unknown) => (sent.push(text), (client.query as (text: string, more?: unknown) => unknown)(text, valuesOrCallback)),
            release: (error) => client.release(error),
          } as PgClient;
          wrappers.set(client, wrapper);
        }
        return wrapper;
      },
    },
  };
}

let db: TestDatabase;
let orm: MikroORM;
let store: PostgresLedgerStateStore;
let sent: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openDatabase({ url: db.url, schema: "ledger", entities: ledgerEntities, migrations, poolMax: 2 });
  const counted = counting(await connectionPool(orm));
  store = new PostgresLedgerStateStore(counted.pool);
  sent = counted.sent;
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

const rollOver = (accountId: string): RollOverCommand => ({
  type: "rollOver", accountId, planId: "plan", planVersion: 1n, cycleStartMs: T0, cycleEndMs: T0 + 30 * 86_400_000,
  units: [{ unit: "credits", allotmentMicros: 100n * CREDIT, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "monthly" }], signupGrants: [],
});
const authorize = (accountId: string, key: string, attribution: Record<string, string> = { model: "m" }): Command => ({
  type: "authorize", accountId, unit: "credits", bucket: "ai", amountMicros: CREDIT, ttlMs: 60_000, attribution, rateTableVersion: 1n,
  eligibility: { allowed: true, metered: true, reason: "" }, idempotencyKey: key, requestHash: key,
});
const charge = (accountId: string, holdId: string, key: string): Command => ({
  type: "charge", accountId, holdId, unit: "credits", bucket: "ai", amountMicros: CREDIT, final: true, idempotencyKey: key, requestHash: key,
  attribution: { model: "m" }, rateTableVersion: 1n, traceparent: "", traceId: "",
});

async function run(commands: Command[], nowMs: number) {
  return store.transact(commands, (state, ids) => {
    for (const account of state.values()) account.facts = FACTS;
    const batch = execute(state, commands, { nowMs, ids });
    return { value: batch.outcomes.map((o) => o.result), writes: batch.writes };
  });
}

describe("PostgreSQL state store round trips", () => {
  it("makes two round trips per batch, however many accounts and calls it carries: the locks and reads, then the writes and the commit", async () => {
    const accounts = Array.from({ length: 8 }, (_, i) => `rt-${i}`);
    await run(accounts.map(rollOver), T0);
    sent.length = 0;
    const authorized = await run(accounts.flatMap((a) => [authorize(a, `${a}:a1`), authorize(a, `${a}:a2`)]), T0 + 1);
    expect(authorized.every((r) => r.ok)).toBe(true);
    expect(sent).toHaveLength(2);
    const holds = authorized.map((r) => (r.ok ? (r.value as { holdId: string }).holdId : ""));
    sent.length = 0;
    const charged = await run(accounts.flatMap((a, i) => [charge(a, holds[2 * i]!, `${a}:c1`), charge(a, holds[2 * i + 1]!, `${a}:c2`)]), T0 + 2);
    expect(charged.every((r) => r.ok)).toBe(true);
    expect(sent).toHaveLength(2);
    const after = await store.account("rt-0");
    expect([...after!.pools.values()].reduce((total, p) => total + p.balanceMicros, 0n)).toBe(98n * CREDIT);
    expect(after!.units.get("credits")!.heldMicros).toBe(0n);
  });

  it("writes values exactly as given, whatever quotes, backslashes and array syntax they hold", async () => {
    const id = `rt-'quoted' \\ "x" {a,b} NULL`;
    const nasty = { model: `it's "quoted" \\ back\\slash {1,2} NULL ,\n$1 E'x'`, "key \"with\" quotes": "\\N" };
    await run([rollOver(id)], T0);
    const [authorized] = await run([authorize(id, `key '1' \\ "2"`, nasty)], T0 + 1);
    expect(authorized).toMatchObject({ ok: true });
    const read = (await store.account(id))!;
    expect([...read.holds.values()].map((h) => h.attribution)).toEqual([nasty]);
    expect([...read.idempotency.keys()]).toEqual([`key '1' \\ "2"`]);
  });
});
