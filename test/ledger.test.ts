import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import pg from "pg";
import { Metadata } from "@grpc/grpc-js";
import { authorizeRequest, CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;

const charge = (accountId: string, key: string, count: number, holdId = "", final = true) =>
  call(platform.clients.ledger, platform.clients.ledger.charge, ledgerV1.ChargeRequest.fromPartial({
    accountId, holdId, usage: replies("gpt-4o", count), final, idempotencyKey: key,
  }));

const balanceOf = async (accountId: string) => {
  const balance = await call(platform.clients.ledger, platform.clients.ledger.getBalance, { accountId });
  return { ...balance, credits: balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)! };
};

async function createAccount(accountId: string, planId = "starter") {
  const { entitlements } = platform.clients;
  await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId, seats: 1 }));
}

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, "pools");
  const { entitlements } = platform.clients;
  await call(entitlements, entitlements.publishPlan, {
    plan: entitlementsV1.Plan.fromPartial({
      planId: "overdraft",
      name: "Overdraft",
      allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(20 * CREDIT) }],
      limits: [{ unit: commonV1.Unit.UNIT_CREDITS, negativeLimitMicros: String(10 * CREDIT), lowCreditLimitMicros: "0" }],
      drawdownOrder: [entitlementsV1.PoolKind.POOL_KIND_BONUS],
      rateTableId: "default",
    }),
    actor: "test",
    reason: "",
  });
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

describe("pools and draw-down", () => {
  it("draws the monthly pool first, then bonus, splitting one charge into a journal line per pool", async () => {
    const { ledger } = platform.clients;
    const granted = await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "pools", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS,
      amountMicros: String(50 * CREDIT), reason: "referral", actor: "support@example.com", idempotencyKey: "grant-bonus",
    }));
    expect(granted.balanceMicros).toBe(String(150 * CREDIT));
    const replay = await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId: "pools", poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS,
      amountMicros: String(50 * CREDIT), reason: "referral", actor: "support@example.com", idempotencyKey: "grant-bonus",
    }));
    expect(replay.poolId).toBe(granted.poolId);

    await charge("pools", "draw-1", 19); // 95 of the monthly 100
    const split = await charge("pools", "draw-2", 2); // 5 from monthly, 5 from bonus
    expect(split.balanceMicros).toBe(String(45 * CREDIT));
    const entries = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "pools", kind: ledgerV1.EntryKind.ENTRY_KIND_CHARGE }));
    const lines = entries.entries[0]!.lines;
    const { pools } = await balanceOf("pools");
    const monthly = pools.find((p) => p.kind === entitlementsV1.PoolKind.POOL_KIND_MONTHLY)!;
    expect(lines.filter((l) => l.poolId).map((l) => [l.poolId, l.amountMicros])).toEqual([
      [monthly.poolId, String(-5 * CREDIT)],
      [granted.poolId, String(-5 * CREDIT)],
    ]);
    expect(monthly.balanceMicros).toBe("0");
  });
});

describe("holds", () => {
  it("takes incremental charges on one hold while a reply streams and releases the rest on final", async () => {
    await createAccount("stream");
    const { ledger } = platform.clients;
    const hold = await call(ledger, ledger.authorize, authorizeRequest("stream", "stream-auth", 4)); // 20 credits held
    for (let i = 0; i < 3; i++) {
      const step = await charge("stream", `stream-${i}`, 1, hold.holdId, false);
      expect(step).toMatchObject({ chargedMicros: String(5 * CREDIT), proceed: true });
    }
    const mid = await balanceOf("stream");
    expect(mid.credits).toMatchObject({ balanceMicros: String(85 * CREDIT), heldMicros: String(5 * CREDIT) });
    const last = await charge("stream", "stream-final", 0, hold.holdId, true);
    expect(last.releasedMicros).toBe(String(5 * CREDIT));
    const after = await balanceOf("stream");
    expect(after.credits).toMatchObject({ balanceMicros: String(85 * CREDIT), heldMicros: "0", availableMicros: String(85 * CREDIT) });
    const closed = await charge("stream", "stream-late", 1, hold.holdId, true).catch((e: unknown) => e as Error);
    expect((closed as { code?: number }).code).toBe(9);
  });

  it("charges a hold for a model a newer rate table version dropped at the hold's version; without a hold that model is NOT_FOUND, but a retry answers as it did", async () => {
    const { pricing, entitlements, ledger } = platform.clients;
    const rates = (...models: string[]): pricingV1.Rate[] => models.map((model) => ({
      bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model, microsPerReply: String(5 * CREDIT) } },
    }));
    const publish = (models: string[], effectiveFrom?: Date) =>
      call(pricing, pricing.publishRateTable, { tableId: "retiring", effectiveFrom, rates: rates(...models), actor: "test", reason: "models", idempotencyKey: "" });
    await publish(["gpt-4o", "old-model"], new Date(Date.now() - 60_000));
    await call(entitlements, entitlements.publishPlan, {
      plan: entitlementsV1.Plan.fromPartial({ planId: "retiring", name: "Retiring", allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(100 * CREDIT) }], rateTableId: "retiring" }),
      actor: "test", reason: "",
    });
    await createAccount("retiring-co", "retiring");
    const authorizeOld = (key: string) => call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "retiring-co", estimate: replies("old-model", 1), idempotencyKey: key }));
    const hold = await authorizeOld("retiring-hold");
    expect(hold.allowed).toBe(true);
    const chargeOld = (key: string) => call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "retiring-co", usage: replies("old-model", 1), final: true, idempotencyKey: key }));
    const oneShot = await chargeOld("retiring-one-shot");
    await publish(["gpt-4o"]);
    // Once the ledger has the new version, old-model no longer prices outside a hold.
    let probe = 0;
    await eventually(async () => {
      const refused = await authorizeOld(`retiring-probe-${probe++}`).then(() => undefined, (e: unknown) => e);
      return refused === undefined ? undefined : errorDetails(refused);
    }).then((refusal) => expect(refusal).toMatchObject({ code: 5, reason: "MODEL_NOT_FOUND" }));
    await expect(chargeOld("retiring-one-shot-2").then(() => undefined, (e: unknown) => errorDetails(e))).resolves.toMatchObject({ code: 5, reason: "MODEL_NOT_FOUND" });
    // Retries of calls made before the drop are answered as they were, not refused for a rate that is gone.
    expect(await authorizeOld("retiring-hold")).toMatchObject({ allowed: true, holdId: hold.holdId, amountMicros: hold.amountMicros, expiresAt: hold.expiresAt });
    expect(await chargeOld("retiring-one-shot")).toEqual(oneShot);
    // An account's first call, for a model that is gone: the model is what is missing, not the account.
    await createAccount("retiring-new", "retiring");
    const first = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "retiring-new", estimate: replies("old-model", 1), idempotencyKey: "first" }))
      .then(() => undefined, (e: unknown) => errorDetails(e));
    expect(first).toMatchObject({ code: 5, reason: "MODEL_NOT_FOUND" });
    const charged = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
      accountId: "retiring-co", holdId: hold.holdId, usage: replies("old-model", 1), final: true, idempotencyKey: "retiring-charge",
    }));
    expect(charged.chargedMicros).toBe(String(5 * CREDIT));
    const { entries } = await call(ledger, ledger.listEntries, { accountId: "retiring-co", holdId: hold.holdId, kind: 0, attribution: {}, recordedFrom: undefined, recordedBefore: undefined, page: { pageSize: 10, pageToken: "" } });
    expect(entries.map((e) => [e.amountMicros, e.rateTableId, e.rateTableVersion])).toEqual([[String(5 * CREDIT), "retiring", "1"]]);
  });

  it("charges usage above the hold down to the negative limit and no further, recording what was not collected", async () => {
    await createAccount("edge", "overdraft");
    const { ledger } = platform.clients;
    const hold = await call(ledger, ledger.authorize, authorizeRequest("edge", "edge-auth", 2)); // 10 of 20 held
    const over = await charge("edge", "edge-charge", 8, hold.holdId, true); // 40 credits of work
    expect(over).toMatchObject({
      chargedMicros: String(30 * CREDIT), // 20 balance + 10 negative limit
      uncollectedMicros: String(10 * CREDIT),
      balanceMicros: String(-10 * CREDIT),
      proceed: false,
    });
    const denied = await call(ledger, ledger.authorize, authorizeRequest("edge", "edge-next", 1));
    expect(denied.reason).toBe(ledgerV1.DenialReason.DENIAL_REASON_INSUFFICIENT_CREDITS);
  });

  it("returns an expired hold's amount to the balance", async () => {
    await createAccount("expiry");
    const { ledger } = platform.clients;
    // Long enough to read the balance with the hold still open on a busy machine, short enough to watch it expire.
    const hold = await call(ledger, ledger.authorize, { ...authorizeRequest("expiry", "expiry-auth", 10), ttlMs: "1000" });
    expect((await balanceOf("expiry")).credits.availableMicros).toBe(String(50 * CREDIT));
    const expired = await eventually(async () => {
      const response = await call(ledger, ledger.getHold, { holdId: hold.holdId });
      return response.hold?.status === ledgerV1.HoldStatus.HOLD_STATUS_EXPIRED ? response.hold : undefined;
    }, 5_000, "the hold to expire");
    expect(expired.chargedMicros).toBe("0");
    expect((await balanceOf("expiry")).credits).toMatchObject({ heldMicros: "0", availableMicros: String(100 * CREDIT) });
  });

  it("lists the holds still open for an account, page by page, each once while new holds arrive", async () => {
    await createAccount("open-holds");
    const { ledger } = platform.clients;
    // At once, so some share a batch and its creation time: the cursor's tie-break (account, id) orders them.
    const made = await Promise.all(["oh-1", "oh-2", "oh-3"].map((key) => call(ledger, ledger.authorize, authorizeRequest("open-holds", key, 1))));
    const listOpen = (pageToken: string) =>
      call(ledger, ledger.listHolds, { accountId: "open-holds", status: ledgerV1.HoldStatus.HOLD_STATUS_OPEN, page: { pageSize: 1, pageToken } });
    const seen: string[] = [];
    let page = await listOpen("");
    seen.push(...page.holds.map((h) => h.holdId));
    // A hold made after the first page is newer than every page's cursor: it shifts nothing onto a second page.
    const later = await call(ledger, ledger.authorize, authorizeRequest("open-holds", "oh-4", 1));
    while (page.nextPageToken) {
      page = await listOpen(page.nextPageToken);
      seen.push(...page.holds.map((h) => h.holdId));
    }
    expect(seen.sort()).toEqual(made.map((h) => h.holdId).sort());
    expect((await listOpen("")).holds.map((h) => h.holdId)).toEqual([later.holdId]);
  });

  it("voids a hold on Release, once", async () => {
    await createAccount("release");
    const { ledger } = platform.clients;
    const hold = await call(ledger, ledger.authorize, authorizeRequest("release", "release-auth", 3));
    const released = await call(ledger, ledger.release, { accountId: "release", holdId: hold.holdId, idempotencyKey: "release-1" });
    expect(released).toMatchObject({ releasedMicros: String(15 * CREDIT), status: ledgerV1.HoldStatus.HOLD_STATUS_RELEASED });
    const again = await call(ledger, ledger.release, { accountId: "release", holdId: hold.holdId, idempotencyKey: "release-2" });
    expect(again.releasedMicros).toBe("0");
    expect((await balanceOf("release")).credits.availableMicros).toBe(String(100 * CREDIT));
  });
});

describe("idempotency", () => {
  it("never charges twice for a replayed charge, also when replays race", async () => {
    await createAccount("replay");
    const results = await Promise.all(Array.from({ length: 8 }, () => charge("replay", "same-charge", 3).catch((e: unknown) => e)));
    const ok = results.filter((r): r is ledgerV1.ChargeResponse => !(r instanceof Error));
    expect(ok.length).toBeGreaterThan(0);
    expect(new Set(ok.map((r) => r.entryId)).size).toBe(1);
    expect((await balanceOf("replay")).credits.balanceMicros).toBe(String(85 * CREDIT));
  });
});

describe("group commit", () => {
  it("commits a burst of concurrent calls on one account together, each with its own result", async () => {
    await createAccount("burst");
    const { ledger } = platform.clients;
    await call(ledger, ledger.authorize, authorizeRequest("burst", "burst-warm", 1)); // caches filled, cycle open
    const keys = Array.from({ length: 16 }, (_, i) => `burst-${i}`);
    const results = await Promise.allSettled([
      ...keys.map((key) => call(ledger, ledger.authorize, authorizeRequest("burst", key, 1))),
      call(ledger, ledger.authorize, authorizeRequest("burst", "burst-3", 1)), // the same request again
      call(ledger, ledger.authorize, authorizeRequest("burst", "burst-5", 2)), // the same key, another request
    ]);
    const holds = results.slice(0, 16).map((r) => (r as PromiseFulfilledResult<ledgerV1.AuthorizeResponse>).value);
    expect(holds.every((h) => h?.allowed)).toBe(true);
    expect(new Set(holds.map((h) => h.holdId)).size).toBe(16);
    expect((results[16] as PromiseFulfilledResult<ledgerV1.AuthorizeResponse>).value?.holdId).toBe(holds[3]!.holdId);
    expect(results[17]!.status).toBe("rejected");
    expect(errorDetails((results[17] as PromiseRejectedResult).reason)).toMatchObject({ reason: "IDEMPOTENCY_KEY_REUSED" });

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `select count(*)::int as holds, count(distinct created_at)::int as transactions, sum(amount_micros)::text as reserved
           from ledger.holds where account_id = 'burst' and status = 'open'`);
      expect(rows[0].holds).toBe(17);
      // now() is the transaction's start: holds that share it were committed together.
      expect(rows[0].transactions).toBeLessThan(17);
      const [held] = (await client.query(`select held_micros::text from ledger.balances where account_id = 'burst'`)).rows;
      expect(held.held_micros).toBe(rows[0].reserved);
    } finally {
      await client.end();
    }
  });

  it("drops a call whose client gave up while it waited for its turn: nothing charged for it, and the calls around it go on", async () => {
    await createAccount("gone-caller");
    await charge("gone-caller", "gone-warm", 1); // caches filled, cycle open
    const { ledger } = platform.clients;
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      // The account's row is held elsewhere: the lane's transaction waits on it, and the next call waits in the lane.
      await sql.query(`begin`);
      await sql.query(`select 1 from ledger.accounts where account_id = 'gone-caller' for update`);
      const first = charge("gone-caller", "gone-first", 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const impatient = await new Promise<unknown>((resolve) =>
        ledger.charge(
          ledgerV1.ChargeRequest.fromPartial({ accountId: "gone-caller", usage: replies("gpt-4o", 1), final: true, idempotencyKey: "gone-late" }),
          new Metadata(),
          { deadline: Date.now() + 300 },
          (error) => resolve(error),
        ));
      expect(errorDetails(impatient).code).toBe(4); // DEADLINE_EXCEEDED
      await sql.query(`rollback`);
      await first;
      await charge("gone-caller", "gone-after", 1);
      const { rows } = await sql.query<{ n: number }>(`select count(*)::int as n from ledger.entries where account_id = 'gone-caller' and kind = 'charge'`);
      expect(rows[0]!.n).toBe(3); // warm, first, after: none for the call whose client gave up
    } finally {
      await sql.end();
    }
  });
});

describe("the journal", () => {
  it("sums to the pool balances and every entry balances to zero", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const pools = await client.query(`
        select p.pool_id, p.balance_micros, coalesce(sum(l.amount_micros), 0) as journal
          from ledger.pools p left join ledger.lines l on l.pool_id = p.pool_id
         group by p.pool_id, p.balance_micros`);
      expect(pools.rows.length).toBeGreaterThan(0);
      for (const row of pools.rows) expect(row.journal).toBe(row.balance_micros);
      const unbalanced = await client.query(`select entry_id from ledger.lines group by entry_id having sum(amount_micros) <> 0`);
      expect(unbalanced.rows).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it("lists one period's entries, page by page, newest first; a token is bound to its period and a backwards range names recorded_before", async () => {
    const { ledger } = platform.clients;
    await createAccount("period");
    for (let i = 1; i <= 5; i++) {
      await charge("period", `period-${i}`, 1);
      await new Promise((resolve) => setTimeout(resolve, 5)); // each charge its own millisecond
    }
    const list = (request: Partial<ledgerV1.ListEntriesRequest>) => call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "period", kind: ledgerV1.EntryKind.ENTRY_KIND_CHARGE, ...request }));
    const charges = (await list({})).entries; // newest first
    expect(charges).toHaveLength(5);
    const at = (i: number) => charges[i]!.createdAt!;
    // From the fourth newest's moment to (not including) the newest's: three charges, read two at a time.
    const period = { recordedFrom: at(3), recordedBefore: at(0) };
    const first = await list({ ...period, page: { pageSize: 2, pageToken: "" } });
    expect(first.entries.map((e) => e.entryId)).toEqual([charges[1]!.entryId, charges[2]!.entryId]);
    const second = await list({ ...period, page: { pageSize: 2, pageToken: first.nextPageToken } });
    expect(second.entries.map((e) => e.entryId)).toEqual([charges[3]!.entryId]);
    expect(second.nextPageToken).toBe("");
    expect((await list({ recordedFrom: at(1) })).entries.map((e) => e.entryId)).toEqual([charges[0]!.entryId, charges[1]!.entryId]);
    expect((await list({ recordedBefore: at(3) })).entries.map((e) => e.entryId)).toEqual([charges[4]!.entryId]);
    expect((await list({ recordedFrom: new Date("2001-01-01T00:00:00Z"), recordedBefore: new Date("2001-02-01T00:00:00Z") })).entries).toEqual([]);

    // Charges sent at once share a batch, and with it the moment they were recorded: paged one at a time, each is listed once,
    // newest moment first and those of one moment newest first too (as without a period).
    await Promise.all([6, 7, 8, 9, 10, 11].map((i) => charge("period", `period-${i}`, 1)));
    const whole = (await list({})).entries;
    const paged: ledgerV1.Entry[] = [];
    let token = "";
    do {
      const page = await list({ recordedFrom: at(0), page: { pageSize: 1, pageToken: token } });
      paged.push(...page.entries);
      token = page.nextPageToken;
    } while (token);
    const instant = (e: ledgerV1.Entry) => e.createdAt!.getTime();
    const expected = whole.filter((e) => instant(e) >= instant(charges[0]!)).sort((a, b) => instant(b) - instant(a) || Number(BigInt(b.entryId) - BigInt(a.entryId)));
    expect(paged.map((e) => e.entryId)).toEqual(expected.map((e) => e.entryId));
    expect(new Set(whole.slice(0, 6).map(instant)).size).toBeLessThan(6); // some did share a moment
    // A token edited to name another account pages the listed account from the same row: nothing of that moment skipped or repeated.
    const top = await list({ recordedFrom: at(0), page: { pageSize: 1, pageToken: "" } });
    const [topScope, topPosition] = top.nextPageToken.split("~") as [string, string];
    const [micros, , id] = JSON.parse(Buffer.from(topPosition, "base64url").toString()) as string[];
    for (const account of ["aaa-other", "zzz-other"]) {
      const elsewhere = `${topScope}~${Buffer.from(JSON.stringify([micros, account, id])).toString("base64url")}`;
      expect((await list({ recordedFrom: at(0), page: { pageSize: 1, pageToken: elsewhere } })).entries.map((e) => e.entryId), account).toEqual([paged[1]!.entryId]);
    }

    const refused = async (request: Partial<ledgerV1.ListEntriesRequest>) => errorDetails(await list(request).catch((error: unknown) => error));
    // The first page's token, with another period: the rows it would skip or repeat are not the ones it was given for.
    expect(await refused({ recordedFrom: at(4), recordedBefore: at(0), page: { pageSize: 2, pageToken: first.nextPageToken } })).toMatchObject({ code: 3, fieldViolations: [{ field: "page.page_token" }] });
    // Its position edited to an id that is not an entry id: refused, not an INTERNAL from the database.
    const [scope, position] = first.nextPageToken.split("~") as [string, string];
    const edited = JSON.parse(Buffer.from(position, "base64url").toString()) as string[];
    const editedToken = `${scope}~${Buffer.from(JSON.stringify([edited[0], edited[1], "1; drop"])).toString("base64url")}`;
    expect(await refused({ ...period, page: { pageSize: 2, pageToken: editedToken } })).toMatchObject({ code: 3, fieldViolations: [{ field: "page.page_token" }] });

    expect(await refused({ recordedFrom: at(0), recordedBefore: at(0) })).toMatchObject({ code: 3, fieldViolations: [{ field: "recorded_before" }] });
    expect(await refused({ recordedFrom: at(0), recordedBefore: at(2) })).toMatchObject({ code: 3, fieldViolations: [{ field: "recorded_before" }] });
  });
});

describe("add-on auto reload", () => {
  /** A new account on starter (100 a month) with an add-on of 50 that reloads to 50 below 20. */
  async function buyReloadingAddOn(accountId: string, cooldownMs: number) {
    await createAccount(accountId);
    return call(platform.clients.ledger, platform.clients.ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId, poolKind: entitlementsV1.PoolKind.POOL_KIND_ADD_ON, unit: commonV1.Unit.UNIT_CREDITS,
      amountMicros: String(50 * CREDIT), reason: "add-on purchase", actor: "billing", idempotencyKey: "buy-addon",
      reloadBelowMicros: String(20 * CREDIT), reloadToMicros: String(50 * CREDIT), reloadCooldownMs: String(cooldownMs),
    }));
  }

  it("tops an add-on pool up to its target when it runs low, once per cool-down, with a grant entry", async () => {
    const { ledger } = platform.clients;
    const addOn = await buyReloadingAddOn("reload", 3_600_000);
    await charge("reload", "r-1", 20); // the monthly 100 is gone
    await charge("reload", "r-2", 8); // add-on 50 → 10: below 20, reloads to 50
    let pools = (await balanceOf("reload")).pools;
    expect(pools.find((p) => p.poolId === addOn.poolId)?.balanceMicros).toBe(String(50 * CREDIT));
    await charge("reload", "r-3", 8); // 50 → 10 again, but inside the cool-down
    pools = (await balanceOf("reload")).pools;
    expect(pools.find((p) => p.poolId === addOn.poolId)?.balanceMicros).toBe(String(10 * CREDIT));
    const grants = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "reload", kind: ledgerV1.EntryKind.ENTRY_KIND_GRANT }));
    expect(grants.entries.filter((e) => e.reason === "add-on auto reload").map((e) => e.amountMicros)).toEqual([String(40 * CREDIT)]);
  });

  it("reloads a pool drained to zero during its cool-down at the first Authorize after it, which it then allows", async () => {
    const { ledger } = platform.clients;
    const addOn = await buyReloadingAddOn("reload-zero", 3_000);
    await charge("reload-zero", "z-1", 20); // the monthly 100 is gone
    await charge("reload-zero", "z-2", 8); // add-on 50 → 10: reloads to 50, and the cool-down starts
    const coolDownEnds = Date.now() + 3_100;
    await charge("reload-zero", "z-3", 10); // 50 → 0 within it: no draw touches a pool at zero, so no charge reloads it
    expect((await balanceOf("reload-zero")).pools.find((p) => p.poolId === addOn.poolId)?.balanceMicros).toBe("0");
    await new Promise((resolve) => setTimeout(resolve, coolDownEnds - Date.now()));
    const allowed = await call(ledger, ledger.authorize, authorizeRequest("reload-zero", "z-4", 1));
    expect(allowed).toMatchObject({ allowed: true, availableMicros: String(45 * CREDIT) });
    const grants = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "reload-zero", kind: ledgerV1.EntryKind.ENTRY_KIND_GRANT }));
    expect(grants.entries.filter((e) => e.reason === "add-on auto reload").map((e) => e.amountMicros)).toEqual([String(50 * CREDIT), String(40 * CREDIT)]);
  });
});

describe("plan changes within a cycle", () => {
  it("gives an account out of credits that upgrades the larger allotment at once, with a grant entry", async () => {
    const { entitlements, ledger } = platform.clients;
    await call(entitlements, entitlements.publishPlan, {
      plan: entitlementsV1.Plan.fromPartial({
        planId: "starter-plus", name: "Starter Plus", rateTableId: "default",
        allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(500 * CREDIT), buckets: [commonV1.Bucket.BUCKET_AI] }],
      }),
      actor: "test", reason: "a larger plan",
    });
    await createAccount("upgrader");
    await charge("upgrader", "u-1", 20); // the starter's 100 credits
    expect(await call(ledger, ledger.authorize, authorizeRequest("upgrader", "u-denied", 1))).toMatchObject({ allowed: false, reason: ledgerV1.DenialReason.DENIAL_REASON_INSUFFICIENT_CREDITS });

    await call(entitlements, entitlements.changeAccountPlan, { accountId: "upgrader", planId: "starter-plus", seats: 0, reason: "upgrade", idempotencyKey: "upgrade-1" });
    let tries = 0;
    const allowed = await eventually(async () => {
      const answer = await call(ledger, ledger.authorize, authorizeRequest("upgrader", `u-after-${++tries}`, 1));
      return answer.allowed ? answer : undefined;
    }, 5_000, "an Authorize allowed after the upgrade");
    expect(allowed.availableMicros).toBe(String(395 * CREDIT));
    const grants = await call(ledger, ledger.listEntries, ledgerV1.ListEntriesRequest.fromPartial({ accountId: "upgrader", kind: ledgerV1.EntryKind.ENTRY_KIND_GRANT }));
    expect(grants.entries.map((e) => [e.amountMicros, e.reason])).toContainEqual([String(400 * CREDIT), "plan changed: the cycle's allotment raised to the new plan's"]);
  });

  it("holds an account to the negative limit it has now after a limit raised and taken back within the cycle", async () => {
    const { entitlements, ledger } = platform.clients;
    const id = "limits-back";
    await createAccount(id); // starter: 100 credits, a negative limit of 0
    await charge(id, "lb-1", 19); // opens the cycle under the plan's limits: 5 credits left
    const monthly = (await balanceOf(id)).pools.find((p) => p.kind === entitlementsV1.PoolKind.POOL_KIND_MONTHLY)!;
    const setNegativeLimit = (credits: number, key: string) => call(entitlements, entitlements.setAccountControls, entitlementsV1.SetAccountControlsRequest.fromPartial({
      accountId: id, reason: "support test", idempotencyKey: key,
      limits: [{ unit: commonV1.Unit.UNIT_CREDITS, negativeLimitMicros: String(credits * CREDIT), lowCreditLimitMicros: "0" }],
    }));
    // Whether support may take 30 credits back (5 − 30 = −25 needs a negative limit of 25); one taken is given back.
    let probes = 0;
    const mayGoTo25Below = async () => {
      const adjust = (credits: number) => call(ledger, ledger.adjust, {
        accountId: id, poolId: monthly.poolId, amountMicros: String(credits * CREDIT), reason: "probe", actor: "support", idempotencyKey: `lb-probe-${++probes}`,
      });
      const taken = await adjust(-30).then(() => true, (error: unknown) => {
        if (errorDetails(error).reason !== "ADJUSTMENT_BELOW_LIMIT") throw error;
        return false;
      });
      if (taken) await adjust(30);
      return taken;
    };
    await setNegativeLimit(50, "lb-up");
    await eventually(async () => ((await mayGoTo25Below()) ? true : undefined), 10_000, "the raised limit reaching the ledger");
    await setNegativeLimit(0, "lb-down");
    await eventually(async () => ((await mayGoTo25Below()) ? undefined : true), 10_000, "the limit taken back reaching the ledger");
    const drained = await charge(id, "lb-2", 40); // 200 credits of usage on 5: collected down to the limit in force, 0
    expect(drained.chargedMicros).toBe(String(5 * CREDIT));
    expect((await balanceOf(id)).credits.balanceMicros).toBe("0");
  });
});
