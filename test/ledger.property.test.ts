import { afterAll, beforeAll, expect, it } from "vitest";
import fc from "fast-check";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

/**
 * Random sequences of grants, authorizes, charges (incremental and final),
 * releases, expiring holds and replays against the real ledger; after each
 * sequence the account's journal, pools and holds must agree.
 */
const NEGATIVE_LIMIT = 10 * CREDIT;

type Op =
  | { op: "authorize"; replies: number; expiring: boolean }
  | { op: "charge"; hold: number | null; replies: number; final: boolean }
  | { op: "release"; hold: number }
  | { op: "grant"; credits: number }
  | { op: "replay"; of: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("authorize" as const), replies: fc.integer({ min: 0, max: 6 }), expiring: fc.boolean() }),
  fc.record({ op: fc.constant("charge" as const), hold: fc.option(fc.nat(8), { nil: null }), replies: fc.integer({ min: 0, max: 8 }), final: fc.boolean() }),
  fc.record({ op: fc.constant("release" as const), hold: fc.nat(8) }),
  fc.record({ op: fc.constant("grant" as const), credits: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ op: fc.constant("replay" as const), of: fc.nat(30) }),
);

let db: TestDatabase;
let platform: Platform;
let sql: pg.Client;
let run = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "property-seed");
  await call(platform.clients.entitlements, platform.clients.entitlements.publishPlan, {
    plan: entitlementsV1.Plan.fromPartial({
      planId: "property",
      name: "Property",
      allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(20 * CREDIT) }],
      limits: [{ unit: commonV1.Unit.UNIT_CREDITS, negativeLimitMicros: String(NEGATIVE_LIMIT), lowCreditLimitMicros: "0" }],
      thresholds: { bannerPercents: [50, 100], emailPercents: [] },
      rateTableId: "default",
    }),
    actor: "test",
    reason: "",
  });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await platform?.stop();
  await db?.drop();
});

async function execute(accountId: string, ops: Op[]) {
  const { ledger } = platform.clients;
  const holds: string[] = [];
  const sent: { request: unknown; method: "authorize" | "charge" | "release" | "grant"; response: unknown }[] = [];
  const send = async (method: (typeof sent)[number]["method"], request: unknown) => {
    const fn = { authorize: ledger.authorize, charge: ledger.charge, release: ledger.release, grant: ledger.grant }[method];
    try {
      const response = await call(ledger, fn as never, request as never);
      sent.push({ method, request, response });
      return response as Record<string, unknown>;
    } catch (error) {
      // Charging a closed hold is refused; that is a valid outcome, not a violation.
      if ((error as { code?: number }).code === 9) return undefined;
      throw error;
    }
  };
  for (const [index, op] of ops.entries()) {
    const key = `${accountId}-${index}`;
    switch (op.op) {
      case "authorize": {
        const response = await send("authorize", ledgerV1.AuthorizeRequest.fromPartial({
          accountId, estimate: replies("gpt-4o", op.replies), idempotencyKey: key, ttlMs: op.expiring ? "1" : "60000",
        }));
        if (response?.holdId) holds.push(String(response.holdId));
        if (op.expiring) await new Promise((resolve) => setTimeout(resolve, 5));
        break;
      }
      case "charge": {
        const holdId = op.hold === null || holds.length === 0 ? "" : holds[op.hold % holds.length]!;
        await send("charge", ledgerV1.ChargeRequest.fromPartial({ accountId, holdId, usage: replies("gpt-4o", op.replies), final: op.final, idempotencyKey: key }));
        break;
      }
      case "release":
        if (holds.length > 0) await send("release", { accountId, holdId: holds[op.hold % holds.length], idempotencyKey: key });
        break;
      case "grant":
        await send("grant", ledgerV1.GrantRequest.fromPartial({
          accountId, poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS,
          amountMicros: String(op.credits * CREDIT), reason: "property", actor: "test", idempotencyKey: key,
        }));
        break;
      case "replay": {
        const original = sent[op.of % Math.max(sent.length, 1)];
        if (!original) break;
        const again = await send(original.method, original.request);
        // A replay returns the original result (marked as a replay), never a second effect.
        expect({ ...again, replayed: undefined }).toEqual({ ...(original.response as object), replayed: undefined });
        break;
      }
    }
  }
}

async function checkInvariants(accountId: string) {
  const pools = await sql.query(
    `select p.pool_id, p.balance_micros::bigint as balance, coalesce(sum(l.amount_micros), 0)::bigint as journal
       from ledger.pools p left join ledger.lines l on l.pool_id = p.pool_id
      where p.account_id = $1 group by p.pool_id, p.balance_micros`,
    [accountId],
  );
  for (const row of pools.rows) expect(row.journal, `pool ${row.pool_id}: journal = balance`).toBe(row.balance);
  const total = pools.rows.reduce((sum, row) => sum + BigInt(row.balance), 0n);
  expect(total >= -BigInt(NEGATIVE_LIMIT), `balance ${total} within the negative limit`).toBe(true);

  const unbalanced = await sql.query(
    `select e.entry_id from ledger.entries e join ledger.lines l using (entry_id) where e.account_id = $1 group by e.entry_id having sum(l.amount_micros) <> 0`,
    [accountId],
  );
  expect(unbalanced.rows).toEqual([]);

  const held = await sql.query(
    `select b.held_micros::bigint as held,
            (select coalesce(sum(greatest(amount_micros - charged_micros, 0)), 0) from ledger.holds h
              where h.account_id = b.account_id and h.unit = b.unit and h.status = 'open')::bigint as open_holds
       from ledger.balances b where b.account_id = $1`,
    [accountId],
  );
  for (const row of held.rows) expect(row.held).toBe(row.open_holds);

  const states = await sql.query(`select distinct status from ledger.holds where account_id = $1`, [accountId]);
  for (const row of states.rows) expect(["open", "charged", "released", "expired"]).toContain(row.status);

  const charges = await sql.query(`select count(*)::int as n from ledger.entries where account_id = $1 and kind = 'charge'`, [accountId]);
  const keys = await sql.query(`select count(*)::int as n from ledger.idempotency_keys where account_id = $1 and operation = 'charge'`, [accountId]);
  expect(charges.rows[0].n, "one entry per charge idempotency key").toBe(keys.rows[0].n);
}

it("keeps the journal, balances, holds and replays consistent under random sequences", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
      const accountId = `prop-${run++}`;
      await call(platform.clients.entitlements, platform.clients.entitlements.createAccount,
        entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId: "property", seats: 1 }));
      await execute(accountId, ops);
      await checkInvariants(accountId);
    }),
    {
      numRuns: 25,
      // Always also run one sequence that takes every path, so the checks below cannot miss one.
      examples: [[[
        { op: "authorize", replies: 2, expiring: false },
        { op: "charge", hold: 0, replies: 1, final: false },
        { op: "charge", hold: 0, replies: 1, final: true },
        { op: "authorize", replies: 1, expiring: false },
        { op: "release", hold: 1 },
        { op: "authorize", replies: 1, expiring: true },
        { op: "grant", credits: 5 },
        { op: "charge", hold: null, replies: 9, final: true },
        { op: "replay", of: 1 },
      ]]],
    },
  );
  // The sequences really exercised every path: holds ending each way, replays and overdrafts.
  const holds = await sql.query(`select status, count(*)::int as n from ledger.holds where account_id like 'prop-%' group by status`);
  const statuses = Object.fromEntries(holds.rows.map((row) => [row.status, row.n]));
  for (const status of ["charged", "released", "expired"]) expect(statuses[status] ?? 0, `${status} holds`).toBeGreaterThan(0);
  const entries = await sql.query(`select count(*)::int as n, count(*) filter (where uncollected_micros > 0)::int as short from ledger.entries where account_id like 'prop-%' and kind = 'charge'`);
  expect(entries.rows[0].n).toBeGreaterThan(0);
  expect(entries.rows[0].short, "charges that hit the negative limit").toBeGreaterThan(0);
}, 120_000);
