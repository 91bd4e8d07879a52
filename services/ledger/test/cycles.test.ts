import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionPool, IDLE_IN_TRANSACTION_TIMEOUT_MS, openDatabase, sql, type MikroORM } from "@tollgate/db";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { ledgerEntities } from "../src/data/entities.js";
import { PostgresLedgerStore } from "../src/data/ledger-store.js";
import { migrations } from "../src/data/migrations/index.js";
import { PostgresLedgerStateStore } from "../src/data/state-store.js";
import type { AccountView } from "../src/domain/account-view.js";
import type { Command, Result, UnitSetup } from "../src/domain/commands.js";
import { execute } from "../src/domain/state-machine.js";
import { rollOver } from "../src/domain/use-cases/roll-over.js";
import type { RateTables } from "../src/domain/store.js";

const CREDIT = 1_000_000n;
const DAY = 86_400_000;
let db: TestDatabase;
let orm: MikroORM;
let store: PostgresLedgerStore;
let stateStore: PostgresLedgerStateStore;

const units: UnitSetup[] = [{ unit: "credits", allotmentMicros: 100n * CREDIT, negativeLimitMicros: 50n * CREDIT, lowCreditLimitMicros: 0n, kind: "monthly" }];
const at = (days: number) => new Date(Math.floor(Date.now() / DAY) * DAY + days * DAY);

/** One command through the state machine and the PostgreSQL state store, as the running ledger decides it. */
async function decide(command: Command): Promise<unknown> {
  const [result] = await stateStore.transact([command], (state, ids) => {
    for (const account of state.values()) account.facts = { suspended: false, drawdownOrder: [], thresholdPercents: [50] };
    const batch = execute(state, [command], { nowMs: Date.now(), ids });
    return { value: batch.outcomes.map((o) => o.result), writes: batch.writes };
  });
  if (!result?.ok) throw new Error(JSON.stringify((result as Extract<Result<unknown>, { ok: false }>).error));
  return result.value;
}

const openAccount = (accountId: string, planId: string, planVersion: bigint, start: Date, end: Date, unitSetup: UnitSetup[], signup: { unit: string; amountMicros: bigint; expiresAt: Date }[]) =>
  decide({
    type: "rollOver", accountId, planId, planVersion, cycleStartMs: start.getTime(), cycleEndMs: end.getTime(), units: unitSetup,
    signupGrants: signup.map((g) => ({ unit: g.unit, amountMicros: g.amountMicros, expiresAtMs: g.expiresAt.getTime() })),
  });

const directCharge = (accountId: string, key: string, credits: bigint) =>
  decide({
    type: "charge", accountId, holdId: null, unit: "credits", bucket: "ai", amountMicros: credits * CREDIT, final: true, idempotencyKey: key,
    requestHash: key, attribution: {}, rateTableVersion: 1n, traceparent: "", traceId: "",
  });

const pools = async (accountId: string) =>
  (await store.pools(accountId)).map((p) => ({ kind: p.kind, balance: BigInt(p.balanceMicros) / CREDIT }));

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openDatabase({ url: db.url, schema: "ledger", entities: ledgerEntities, migrations });
  store = new PostgresLedgerStore(() => orm.em.fork());
  stateStore = new PostgresLedgerStateStore(await connectionPool(orm));
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

describe("cycle rollover", () => {
  it("carries a negative balance into the next allotment, once, and lets unused allotment lapse", async () => {
    await openAccount("roll", "p", 1n, at(-10), at(20), units, []);
    await directCharge("roll", "over", 130n);
    expect(await pools("roll")).toEqual([{ kind: "monthly", balance: -30n }]);

    expect(await openAccount("roll", "p", 1n, at(20), at(50), units, [])).toMatchObject({ rolled: true });
    expect(await pools("roll")).toEqual([{ kind: "monthly", balance: 70n }]);

    // Twice, or late with the old cycle: nothing more happens.
    expect(await openAccount("roll", "p", 1n, at(20), at(50), units, [])).toMatchObject({ rolled: false });
    expect(await openAccount("roll", "p", 1n, at(-10), at(20), units, [])).toMatchObject({ rolled: false });
    expect(await pools("roll")).toEqual([{ kind: "monthly", balance: 70n }]);

    await openAccount("roll", "p", 1n, at(50), at(80), units, []);
    expect(await pools("roll")).toEqual([{ kind: "monthly", balance: 100n }]);

    const [journal] = await sql<{ ok: boolean }>(orm.em.fork(), `
      select bool_and(p.balance_micros = coalesce(l.total, 0)) as ok from ledger.pools p
        left join (select pool_id, sum(amount_micros) as total from ledger.lines group by pool_id) l using (pool_id)
       where p.account_id = 'roll'`);
    expect(journal?.ok).toBe(true);
  });

  it("resets threshold state so a crossing fires again in the new cycle", async () => {
    await openAccount("thresholds", "p", 1n, at(-10), at(20), units, []);
    await directCharge("thresholds", "t1", 60n);
    await openAccount("thresholds", "p", 1n, at(20), at(50), units, []);
    await directCharge("thresholds", "t2", 60n);
    const events = await sql<{ payload: { threshold_percent: number; cycle: string } }>(orm.em.fork(),
      `select payload from ledger.outbox where account_id = 'thresholds' and kind = 'threshold_crossed' order by id`);
    expect(events.map((e) => e.payload.threshold_percent)).toEqual([50, 50]);
    expect(new Set(events.map((e) => e.payload.cycle)).size).toBe(2);
  });

  it("closes an expired sign-up grant with an entry and an event, then denies with FREE_CREDITS_EXPIRED", async () => {
    const signup = [{ unit: "credits", amountMicros: 75n * CREDIT, expiresAt: new Date(Date.now() + 300) }];
    const noAllotment: UnitSetup[] = [{ unit: "credits", allotmentMicros: 0n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "monthly" }];
    await openAccount("trial", "p", 1n, at(-1), at(29), noAllotment, signup);
    expect(await pools("trial")).toEqual([{ kind: "free_grant", balance: 75n }]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await store.expiredPoolAccounts(10)).toContain("trial");
    expect(await decide({ type: "expirePools", accountId: "trial" })).toEqual({ expired: 1 });
    expect(await pools("trial")).toEqual([]);
    const [event] = await sql<{ payload: { kind: string; expired_micros: string } }>(orm.em.fork(),
      `select payload from ledger.outbox where account_id = 'trial' and kind = 'pool_expired'`);
    expect(event?.payload).toMatchObject({ kind: "free_grant", expired_micros: String(75n * CREDIT) });
    const denied = await decide({
      type: "authorize", accountId: "trial", unit: "credits", bucket: "ai", amountMicros: CREDIT, idempotencyKey: "a", requestHash: "a",
      ttlMs: 1000, attribution: {}, rateTableVersion: 1n, eligibility: { allowed: true, metered: true, reason: "" },
    });
    expect(denied).toMatchObject({ allowed: false, reason: "FREE_CREDITS_EXPIRED" });
  });
});

describe("RollOverCycle", () => {
  it("rolls only a cycle that has ended: calendar months from the anchor, the 31st on the last day of shorter months", async () => {
    const view: AccountView = {
      accountId: "anchored", status: "active", planId: "p", planVersion: 1n, cycleAnchor: new Date("2026-01-31T10:00:00Z"), rateTableId: "r",
      drawdownOrder: [], thresholdPercents: [], units: units as AccountView["units"], billingMode: "credits", seats: 1, deploymentMode: "cloud", eligibility: [], meteredBuckets: [], signupGrants: [],
    };
    let clock = new Date("2026-02-10T00:00:00Z");
    // Rolling over prices nothing: no rate table is needed.
    const deps = { store: stateStore, accounts: { get: async () => view }, rates: {} as RateTables, now: () => clock };
    const rollAt = async (iso: string) => {
      clock = new Date(iso);
      const { rolled, cycleStartMs } = await rollOver(deps, "anchored");
      return [rolled, new Date(cycleStartMs).toISOString()];
    };
    expect(await rollAt("2026-02-10T00:00:00Z")).toEqual([false, "2026-01-31T10:00:00.000Z"]); // the first cycle opens
    expect(await rollAt("2026-02-28T09:59:59Z")).toEqual([false, "2026-01-31T10:00:00.000Z"]); // not ended yet: nothing rolls
    expect(await rollAt("2026-02-28T10:00:00Z")).toEqual([true, "2026-02-28T10:00:00.000Z"]);
    expect(await rollAt("2026-03-05T00:00:00Z")).toEqual([false, "2026-02-28T10:00:00.000Z"]);
    expect(await rollAt("2026-03-31T10:00:00Z")).toEqual([true, "2026-03-31T10:00:00.000Z"]); // back on the 31st
    const monthly = (await store.pools("anchored")).filter((p) => p.kind === "monthly" && !p.closed);
    expect(monthly).toHaveLength(1); // one allotment per cycle, however often it is asked
  });
});

describe("the pool sweeper", () => {
  it("finds the accounts with expired pools, which the state machine then closes, and finds them no more", async () => {
    const signup = [{ unit: "credits", amountMicros: 5n * CREDIT, expiresAt: new Date(Date.now() + 200) }];
    const noAllotment: UnitSetup[] = [{ unit: "credits", allotmentMicros: 0n, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "monthly" }];
    await openAccount("busy", "p", 1n, at(-1), at(29), noAllotment, signup);
    expect(await store.expiredPoolAccounts(10)).not.toContain("busy");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await store.expiredPoolAccounts(10)).toContain("busy");
    expect(await decide({ type: "expirePools", accountId: "busy" })).toEqual({ expired: 1 });
    expect(await pools("busy")).toEqual([]);
    expect(await store.expiredPoolAccounts(10)).not.toContain("busy");
  });
});

describe("idempotency keys", () => {
  it("are kept for the retention period and forgotten after it", async () => {
    await openAccount("keys", "p", 1n, at(-1), at(29), units, []);
    await directCharge("keys", "recent", 1n);
    await directCharge("keys", "old", 1n);
    await sql(orm.em.fork(), `update ledger.idempotency_keys set created_at = now() - interval '8 days' where account_id = 'keys' and idempotency_key = 'old'`);
    expect(await store.pruneIdempotencyKeys(7 * 86_400_000, 100)).toBe(1);
    const left = await sql<{ idempotency_key: string }>(orm.em.fork(), `select idempotency_key from ledger.idempotency_keys where account_id = 'keys'`);
    expect(left.map((r) => r.idempotency_key)).toEqual(["recent"]);
  });
});

describe("due work", () => {
  it("is read a page at a time, oldest charge first, each page after the last one's row", async () => {
    await openAccount("busy", "p", 1n, at(-10), at(20), units, []);
    // Three running deployments, two last charged at the same instant.
    for (const [workId, charged] of [["w-1", at(-2)], ["w-2", at(-1)], ["w-3", at(-2)]] as const) {
      await sql(orm.em.fork(), `insert into ledger.metered_work (work_id, kind, account_id, state, usage, charged_until) values (?, 'deployment', 'busy', 'running', '{}', ?)`, [workId, charged]);
    }
    const later = new Date(Date.now() + DAY);
    const read: Awaited<ReturnType<typeof store.dueWork>> = [];
    for (let page = await store.dueWork(later, 2); page.length > 0; page = await store.dueWork(later, 2, page.at(-1))) read.push(...page);
    expect(read.filter((w) => w.account_id === "busy").map((w) => w.work_id)).toEqual(["w-1", "w-3", "w-2"]);
    const keys = read.map((w) => `${w.account_id}/${w.work_id}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("the ledger's connections", () => {
  it("have PostgreSQL end a transaction left idle (a paused replica's), so its row locks do not hold every writer", async () => {
    const pool = await connectionPool(orm);
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ idle_in_transaction_session_timeout: string }>("show idle_in_transaction_session_timeout");
      expect(rows[0]!.idle_in_transaction_session_timeout).toBe(`${IDLE_IN_TRANSACTION_TIMEOUT_MS / 60_000}min`);
    } finally {
      client.release();
    }
  });
});
