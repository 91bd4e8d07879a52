// An upgrade of a live ledger database: the schema as the migrations landed
// through LANDED_THROUGH left it, filled through the SQL functions and tables
// of that schema (not today's store, which may expect a newer one), then every
// later registered migration applied by the real ledger service starting on
// it. Whatever migrations come after the cut run here as "the new ones".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { openDatabase } from "@tollgate/db";
import { startEntitlementsService, type EntitlementsService } from "@tollgate/entitlements";
import { startLedgerService, type LedgerService } from "@tollgate/ledger";
import { startPricingService, type PricingService } from "@tollgate/pricing";
import { call, createClient, ROLES } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, TEST_PRINCIPAL, testIssuer, type TestDatabase, type TestIssuer } from "@tollgate/testing";
import { accountView } from "../services/ledger/src/data/account-cache.js";
import { ledgerEntities } from "../services/ledger/src/data/entities.js";
import { migrations } from "../services/ledger/src/data/migrations/index.js";
import { DROPPED_FUNCTIONS } from "../services/ledger/src/data/migrations/Migration20261216100000_drop_sql_ledger.js";
import { cycleAt } from "../services/ledger/src/domain/cycle.js";
import { CREDIT, replies } from "./fixtures.js";

/** The last ledger migration landed when this test was written: the schema an upgraded database starts from. */
const LANDED_THROUGH = "Migration20261130800000_outbox_retention";
const cut = migrations.findIndex((m) => m.name === LANDED_THROUGH);
const landed = migrations.slice(0, cut + 1);
const USD = 1_000_000;

let db: TestDatabase;
let issuer: TestIssuer;
let entitlements: EntitlementsService;
let pricing: PricingService;
let ledger: LedgerService | undefined;
let client: pg.Client;
let clients: {
  entitlements: entitlementsV1.EntitlementsServiceClient;
  pricing: pricingV1.PricingServiceClient;
  ledger?: ledgerV1.LedgerServiceClient;
};

/** One call of a ledger SQL function as the landed schema defines it. */
async function fn<T = Record<string, string>>(query: string, params: unknown[]): Promise<T> {
  return (await client.query(`select ${query} as result`, params)).rows[0].result as T;
}

/** Opens the account's current cycle in the landed schema, with what the ledger would open it with. */
async function openAccount(accountId: string) {
  const { account } = await call(clients.entitlements, clients.entitlements.getAccount, { accountId });
  const { plan } = await call(clients.entitlements, clients.entitlements.getPlan, { planId: account!.planId, version: "0" });
  const view = accountView(account!, plan!);
  const cycle = cycleAt(view.cycleAnchor, new Date());
  const units = view.units.map((u) => ({
    unit: u.unit, allotment_micros: u.allotmentMicros.toString(), negative_limit_micros: u.negativeLimitMicros.toString(),
    low_credit_limit_micros: u.lowCreditLimitMicros.toString(), kind: u.kind ?? "monthly",
  }));
  const grants = view.signupGrants.map((g) => ({ unit: g.unit, amount_micros: g.amountMicros.toString(), expires_at: g.expiresAt.toISOString() }));
  await fn(`ledger.open_account($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)`, [
    accountId, view.planId, view.planVersion.toString(), cycle.start, cycle.end, JSON.stringify(units), JSON.stringify(grants),
  ]);
}

const authorize = (account: string, key: string, micros: number) =>
  fn<{ allowed: boolean; hold_id: string }>(`ledger.authorize($1, 'credits', 'ai', $2, $3, $3, 3600000, '{"model":"gpt-4o"}'::jsonb, 1)`, [account, micros, key]);
const charge = (account: string, unit: string, hold: string | null, micros: number, key: string) =>
  fn(`ledger.charge($1, $2::uuid, $3, 'ai', $4, true, $5, $5, '{"model":"gpt-4o"}'::jsonb, 1, '{}'::text[], '{50,100}'::integer[], '', '')`, [account, hold, unit, micros, key]);
const startWork = (kind: "run" | "deployment", account: string, workId: string, usage: object, replicas: number) =>
  fn<{ allowed: boolean }>(`ledger.start_work($1, $2, $3, 'credits', $4::jsonb, $5, '{}'::jsonb, 0, 'INSUFFICIENT_CREDITS', $2, $2, $6)`, [
    kind, workId, account, JSON.stringify(usage), replicas, kind === "deployment" ? `https://${workId}.example.com` : "",
  ]);

/** A metering tick of the landed schema, as a ledger of that release made it: the charge, then the running totals it was priced from. */
async function meterWork(workId: string, seconds: number, micros: number, nextState: string | null) {
  const { rows } = await client.query(`select charged_until, priced_quantity::int as quantity, priced_micros::bigint as priced, replicas from ledger.metered_work where work_id = $1`, [workId]);
  const work = rows[0] as { charged_until: Date; quantity: number; priced: string; replicas: number };
  const to = new Date(work.charged_until.getTime() + seconds * 1000);
  const result = await fn<{ stale: boolean; state: string }>(`ledger.meter_work($1, $2, $3, $4, 'credits', 'compute', 1, '{}'::text[], '{50,100}'::integer[], $5, null, '', '')`, [
    workId, work.charged_until, to, micros, nextState,
  ]);
  await client.query(`update ledger.metered_work set priced_quantity = $2, priced_micros = $3 where work_id = $1`, [workId, work.quantity + seconds * work.replicas, BigInt(work.priced) + BigInt(micros)]);
  return result;
}

/** What the database holds for an account, read with SQL. */
async function snapshot(accountId: string) {
  const q = async (text: string) => (await client.query(text, [accountId])).rows;
  return {
    pools: await q(`select pool_id, balance_micros::text as balance, granted_micros::text as granted from ledger.pools where account_id = $1 and not closed order by pool_id`),
    held: await q(`select unit, held_micros::text as held from ledger.balances where account_id = $1 order by unit`),
    openHolds: await q(`select hold_id, amount_micros::text as amount from ledger.holds where account_id = $1 and status = 'open' order by hold_id`),
    entries: await q(`select entry_id::text as id, amount_micros::text as amount from ledger.entries where account_id = $1 order by entry_id`),
  };
}

const before: Record<string, Awaited<ReturnType<typeof snapshot>>> = {};
let openHolds: string[] = [];
/** Every journal line before the upgrade, with the account of its entry. */
let linesBefore: Record<string, unknown>[] = [];
const journalLines = async () =>
  (await client.query(`select e.account_id, l.entry_id::text, l.line_no, l.ledger_account, l.pool_id, l.amount_micros::text
                         from ledger.lines l join ledger.entries e on e.entry_id = l.entry_id order by l.entry_id, l.line_no`)).rows;

beforeAll(async () => {
  expect(cut, `${LANDED_THROUGH} is registered`).toBeGreaterThanOrEqual(0);
  db = await createTestDatabase();
  issuer = await testIssuer();
  const credentials = { credentials: issuer.credential(TEST_PRINCIPAL, ROLES) };
  entitlements = await startEntitlementsService({ databaseUrl: db.url, port: 0, poolMax: 2, auth: issuer.auth });
  pricing = await startPricingService({ databaseUrl: db.url, port: 0, poolMax: 2, auth: issuer.auth });
  clients = {
    entitlements: createClient(entitlementsV1.EntitlementsServiceClient, entitlements.address, credentials),
    pricing: createClient(pricingV1.PricingServiceClient, pricing.address, credentials),
  };
  const rate = (bucket: commonV1.Bucket, kind: pricingV1.Rate["kind"]): pricingV1.Rate => ({ bucket, unit: commonV1.Unit.UNIT_CREDITS, kind });
  await call(clients.pricing, clients.pricing.publishRateTable, {
    tableId: "default", effectiveFrom: new Date(Date.now() - 60_000), actor: "test", reason: "seed", idempotencyKey: "",
    rates: [
      rate(commonV1.Bucket.BUCKET_AI, { $case: "modelReply", modelReply: { model: "gpt-4o", microsPerReply: String(5 * CREDIT) } }),
      rate(commonV1.Bucket.BUCKET_AI, { $case: "modelToken", modelToken: pricingV1.ModelTokenRate.fromPartial({
        model: "own-sonnet", inputMicrosPerMillion: String(3 * USD), outputMicrosPerMillion: String(15 * USD),
        inputUsdMicrosPerMillion: String(3 * USD), outputUsdMicrosPerMillion: String(15 * USD),
      }) }),
      rate(commonV1.Bucket.BUCKET_COMPUTE, { $case: "activeMinute", activeMinute: { microsPerMinute: String(60 * CREDIT) } }),
      rate(commonV1.Bucket.BUCKET_COMPUTE, { $case: "gpuHour", gpuHour: { gpuType: "A100", microsPerReplicaHour: String(3600 * CREDIT) } }),
    ],
  });
  const plan = (planId: string, credits: number) =>
    call(clients.entitlements, clients.entitlements.publishPlan, {
      actor: "test", reason: "seed",
      plan: entitlementsV1.Plan.fromPartial({
        planId, name: planId, rateTableId: "default",
        allotments: credits > 0 ? [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(credits * CREDIT) }] : [],
        thresholds: { bannerPercents: [50, 100], emailPercents: [] },
      }),
    });
  await plan("standard", 100);
  await plan("compute", 1000);
  await plan("byom", 0);
  const account = (accountId: string, planId: string, extra: Partial<entitlementsV1.CreateAccountRequest> = {}) =>
    call(clients.entitlements, clients.entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId, seats: 1, ...extra }));
  await account("acme", "standard");
  await account("deployco", "compute");
  await account("byom-co", "byom", { billingMode: entitlementsV1.BillingMode.BILLING_MODE_BYOM_USD, spendCapMicros: String(1 * USD) });

  // The ledger schema as landed, filled through what it offers.
  await (await openDatabase({ url: db.url, schema: "ledger", entities: ledgerEntities, migrations: landed, poolMax: 1 })).close();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  for (const id of ["acme", "deployco", "byom-co"]) await openAccount(id);
  // acme: the monthly pool, a bonus pool, three holds (one charged), so two stay open.
  await fn(`ledger.grant('acme', 'credits', 'bonus', $1, null, 0, 'goodwill', 'support', 'bonus-1', 'bonus-1', '', 0, 0, 0)`, [50 * CREDIT]);
  const holds = [await authorize("acme", "h1", 10 * CREDIT), await authorize("acme", "h2", 10 * CREDIT), await authorize("acme", "h3", 10 * CREDIT)];
  expect(holds.every((h) => h.allowed)).toBe(true);
  await charge("acme", "credits", holds[0]!.hold_id, 5 * CREDIT, "c1");
  await charge("acme", "credits", null, 5 * CREDIT, "c2");
  openHolds = [holds[1]!.hold_id, holds[2]!.hold_id];
  // byom-co: its spend cap pool in USD, part spent.
  await charge("byom-co", "usd", null, 0.3 * USD, "b1");
  // deployco: a running deployment and a running run.
  expect((await startWork("deployment", "deployco", "dep-1", { kind: "gpu_time", gpuType: "A100", replicas: "0", seconds: "0" }, 2)).allowed).toBe(true);
  expect((await startWork("run", "deployco", "run-1", { kind: "active_time", seconds: "0" }, 1)).allowed).toBe(true);
  // A run paused before the upgrade, after one charged second; the deployment charged for two seconds of its two replicas.
  expect((await startWork("run", "deployco", "run-2", { kind: "active_time", seconds: "0" }, 1)).allowed).toBe(true);
  await client.query(`update ledger.metered_work set metered = true where account_id = 'deployco'`);
  expect(await meterWork("run-2", 1, CREDIT, "paused")).toMatchObject({ stale: false, state: "paused" });
  expect(await meterWork("dep-1", 2, 4 * CREDIT, null)).toMatchObject({ stale: false, state: "running" });
  for (const id of ["acme", "deployco", "byom-co"]) before[id] = await snapshot(id);
  linesBefore = await journalLines();

  // The upgrade: the ledger service starts on the filled database and applies every later migration.
  ledger = await startLedgerService({
    databaseUrl: db.url, port: 0, poolMax: 4, entitlementsAddress: entitlements.address, pricingAddress: pricing.address,
    sweepIntervalMs: 200, meterIntervalMs: 200, reconcileIntervalMs: 100, auth: issuer.auth,
    credentials: issuer.credential("ledger", ["service"]),
  });
  clients.ledger = createClient(ledgerV1.LedgerServiceClient, ledger.address, credentials);
});

afterAll(async () => {
  for (const c of Object.values(clients ?? {})) c?.close();
  await client?.end();
  await ledger?.stop();
  await pricing?.stop();
  await entitlements?.stop();
  await db?.drop();
});

describe(`a ledger database upgraded from the migrations through ${LANDED_THROUGH}`, () => {
  const rpc = () => clients.ledger!;

  it("applied every registered migration and recorded its checksum", async () => {
    const applied = (await client.query(`select name from ledger.mikro_orm_migrations order by id`)).rows.map((r) => r.name);
    const expected = migrations.map((m) => m.name);
    expect(applied).toEqual(expected);
    const recorded = (await client.query(`select name from ledger.migration_checksums order by name`)).rows.map((r) => r.name);
    expect(recorded).toEqual([...expected].sort());
  });

  it("keeps balances, pools and the journal", async () => {
    const ledgerRpc = rpc();
    for (const accountId of ["acme", "byom-co"]) {
      const balance = await call(ledgerRpc, ledgerRpc.getBalance, { accountId });
      const was = before[accountId]!;
      expect(balance.pools.map((p) => ({ pool_id: p.poolId, balance: p.balanceMicros, granted: p.grantedMicros })).sort((a, b) => a.pool_id.localeCompare(b.pool_id))).toEqual(was.pools);
      for (const { unit, held } of was.held) {
        const u = balance.units.find((x) => commonV1.unitToJSON(x.unit) === `UNIT_${unit.toUpperCase()}`);
        expect(u?.heldMicros, `${accountId} ${unit} held`).toBe(held);
      }
      const entries = await call(ledgerRpc, ledgerRpc.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId, page: { pageSize: 100, pageToken: "" } }));
      expect(entries.entries.map((e) => ({ id: e.entryId, amount: e.amountMicros })).sort((a, b) => Number(a.id) - Number(b.id))).toEqual(was.entries);
      expect(await snapshot(accountId)).toEqual(was); // reading changed nothing
    }
    // The numbers themselves: 100 monthly + 50 bonus, 10 charged, 20 held; $1 cap, $0.30 spent.
    const acme = await call(ledgerRpc, ledgerRpc.getBalance, { accountId: "acme" });
    expect(acme.units[0]).toMatchObject({ balanceMicros: String(140 * CREDIT), heldMicros: String(20 * CREDIT), availableMicros: String(120 * CREDIT) });
    const byom = await call(ledgerRpc, ledgerRpc.getBalance, { accountId: "byom-co" });
    expect(byom.pools).toMatchObject([{ kind: entitlementsV1.PoolKind.POOL_KIND_SPEND_CAP, balanceMicros: String(0.7 * USD), grantedMicros: String(1 * USD) }]);
  });

  it("keeps open holds, which can still be charged and released", async () => {
    const ledgerRpc = rpc();
    const open = await call(ledgerRpc, ledgerRpc.listHolds, ledgerV1.ListHoldsRequest.fromPartial({ accountId: "acme", status: ledgerV1.HoldStatus.HOLD_STATUS_OPEN, page: { pageSize: 10, pageToken: "" } }));
    expect(open.holds.map((h) => h.holdId).sort()).toEqual([...openHolds].sort());
    expect(open.holds.map((h) => h.amountMicros)).toEqual([String(10 * CREDIT), String(10 * CREDIT)]);

    const charged = await call(ledgerRpc, ledgerRpc.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "acme", holdId: openHolds[0], usage: replies("gpt-4o", 1), final: true, idempotencyKey: "after-c1" }));
    expect(charged).toMatchObject({ chargedMicros: String(5 * CREDIT), releasedMicros: String(5 * CREDIT) });
    const released = await call(ledgerRpc, ledgerRpc.release, { accountId: "acme", holdId: openHolds[1]!, idempotencyKey: "after-r1" });
    expect(released.releasedMicros).toBe(String(10 * CREDIT));

    const acme = await call(ledgerRpc, ledgerRpc.getBalance, { accountId: "acme" });
    expect(acme.units[0]).toMatchObject({ balanceMicros: String(135 * CREDIT), heldMicros: "0", availableMicros: String(135 * CREDIT) });
    const denied = await call(ledgerRpc, ledgerRpc.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "acme", estimate: replies("gpt-4o", 28), idempotencyKey: "after-a1", ttlMs: "60000" }));
    expect(denied.allowed).toBe(false); // 140 credits > 135 available
  });

  it("keeps metering the running deployment and run", async () => {
    const ledgerRpc = rpc();
    const work = async () =>
      (await call(ledgerRpc, ledgerRpc.listMeteredWork, ledgerV1.ListMeteredWorkRequest.fromPartial({ accountId: "deployco", page: { pageSize: 10, pageToken: "" } }))).work;
    const deployment = await eventually(async () => {
      const dep = (await work()).find((w) => w.workId === "dep-1");
      return dep && Number(dep.chargedMicros) > 4 * CREDIT ? dep : undefined; // 2 replicas × 1 credit per replica-second, beyond the 4 charged before
    }, 15_000, "the deployment charged after the upgrade");
    expect(deployment).toMatchObject({ kind: "deployment", state: "running", replicas: 2 });

    const undeployed = await call(ledgerRpc, ledgerRpc.undeploy, { accountId: "deployco", deploymentId: "dep-1", idempotencyKey: "after-u1" });
    expect(Number(undeployed.totalChargedMicros)).toBeGreaterThanOrEqual(Number(deployment.chargedMicros));
    const ended = await call(ledgerRpc, ledgerRpc.endRun, { accountId: "deployco", runId: "run-1", state: ledgerV1.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "after-e1" });
    expect(Number(ended.totalChargedMicros)).toBeGreaterThan(0);

    // The run paused before the upgrade resumes where it stopped: its pause is never charged, every active second is.
    expect((await work()).find((w) => w.workId === "run-2")).toMatchObject({ state: "paused", chargedMicros: String(CREDIT) });
    expect(await call(ledgerRpc, ledgerRpc.resumeRun, { accountId: "deployco", runId: "run-2", idempotencyKey: "after-r2" })).toEqual({ proceed: true });
    await eventually(async () => {
      const run = (await work()).find((w) => w.workId === "run-2");
      return run && Number(run.chargedMicros) > CREDIT ? run : undefined;
    }, 15_000, "the resumed run charged after the upgrade");
    const resumed = await call(ledgerRpc, ledgerRpc.endRun, { accountId: "deployco", runId: "run-2", state: ledgerV1.RunEndState.RUN_END_STATE_FINISHED, idempotencyKey: "after-e2" });
    expect(BigInt(resumed.totalChargedMicros)).toBe(BigInt(resumed.activeSeconds) * BigInt(CREDIT)); // 1 credit per active second, whole seconds

    const all = await work();
    expect(all.map((w) => w.state).sort()).toEqual(["finished", "finished", "undeployed"]);
    const charged = all.reduce((sum, w) => sum + Number(w.chargedMicros), 0);
    const balance = await call(ledgerRpc, ledgerRpc.getBalance, { accountId: "deployco" });
    expect(Number(balance.units[0]!.balanceMicros)).toBe(1000 * CREDIT - charged);
  });

  it("emits spend_cap_reached once per cycle from the state machine, with the earlier releases' pool triggers and SQL ledger gone", async () => {
    const ledgerRpc = rpc();
    const events = async (accountId: string) => (await client.query(`select payload from ledger.outbox where account_id = $1 and kind = 'spend_cap_reached'`, [accountId])).rows;
    // byom-co's cap (0.70 left) taken to zero, then charged past it: one event.
    const tokens = (input: string) => ({ kind: { $case: "modelTokens" as const, modelTokens: { model: "own-sonnet", inputTokens: input, outputTokens: "30000", cacheReadTokens: "0", cacheWriteTokens: "0" } } });
    await call(ledgerRpc, ledgerRpc.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "byom-co", usage: tokens("100000"), final: true, idempotencyKey: "after-b1" }));
    await call(ledgerRpc, ledgerRpc.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "byom-co", usage: tokens("1000"), final: true, idempotencyKey: "after-b2" }));
    const capped = await events("byom-co");
    expect(capped).toHaveLength(1);
    expect(capped[0].payload).toMatchObject({ cap_micros: String(USD) });
    // What wrote that event before this release, and every other function the upgrade test filled the schema through, is gone.
    const old = await client.query(`select proname from pg_proc where pronamespace = 'ledger'::regnamespace and proname = any($1)`, [DROPPED_FUNCTIONS]);
    expect(DROPPED_FUNCTIONS).toEqual(expect.arrayContaining(["open_account", "authorize", "charge", "grant", "start_work", "meter_work", "spend_cap_reached"]));
    expect(old.rows).toEqual([]);
  });

  it("keeps every journal line, each now carrying its entry's account, also those metered work wrote since", async () => {
    expect(linesBefore.length).toBeGreaterThan(10);
    const carried = (await client.query(`select l.account_id, e.account_id as entry_account, l.entry_id::text from ledger.lines l join ledger.entries e on e.entry_id = l.entry_id`)).rows;
    expect(carried.filter((r) => r.account_id !== r.entry_account)).toEqual([]);
    const after = await journalLines();
    expect(after.slice(0, linesBefore.length)).toEqual(linesBefore);
    // The deployment's metering charges were journaled after the upgrade.
    expect(after.filter((l) => l.account_id === "deployco").length).toBeGreaterThan(linesBefore.filter((l) => l.account_id === "deployco").length);
  });
});
