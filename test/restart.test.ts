import { afterAll, beforeAll, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { call, createClient, ROLES } from "@tollgate/grpc-kit";
import { startLedgerService } from "@tollgate/ledger";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { CREDIT, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";

/**
 * Right after a restart the ledger reopens every account it sees (its
 * in-memory record of open cycles is gone) while group-commit batches charge
 * the same accounts: both lock an account's rows in one order, so none of
 * the calls is ABORTED by a deadlock.
 */
const ACCOUNTS = 24;
const CHARGES_PER_ACCOUNT = 10;
const RESTARTS = 2;

let db: TestDatabase;
let platform: Platform;
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `restart-${i}`);

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url);
  await seedStarter(platform, accounts[0]!);
  const { entitlements, ledger } = platform.clients;
  for (const accountId of accounts.slice(1)) {
    await call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId: "starter", seats: 1 }));
  }
  // Every account is open in the ledger, with credit for every charge, before the first restart.
  for (const accountId of accounts) {
    await call(ledger, ledger.grant, ledgerV1.GrantRequest.fromPartial({
      accountId, poolKind: entitlementsV1.PoolKind.POOL_KIND_BONUS, unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(1_000 * CREDIT),
      reason: "test", actor: "test", idempotencyKey: `${accountId}-grant`,
    }));
  }
});

afterAll(async () => {
  await platform?.stop();
  await db?.drop();
});

const charge = (accountId: string, key: string): ledgerV1.ChargeRequest => ({
  accountId, holdId: "", usage: replies("gpt-4o", 1), final: true, idempotencyKey: key, attribution: undefined, context: undefined, occurredAt: undefined, workKind: 0,
});

it("concurrent charges on existing accounts right after a ledger restart are never ABORTED", async () => {
  let client = platform.clients.ledger;
  for (let restart = 0; restart < RESTARTS; restart++) {
    await platform.ledger.stop();
    platform.ledger = await startLedgerService({
      databaseUrl: db.url, port: 0, poolMax: 8, entitlementsAddress: platform.entitlements.address, pricingAddress: platform.pricing.address,
      sweepIntervalMs: 0, meterIntervalMs: 0, auth: platform.auth, ...platform.serviceCredentials("ledger"),
    });
    client.close();
    client = createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, platform.serviceCredentials(platform.principal, ROLES));
    const outcomes = await Promise.allSettled(
      accounts.flatMap((accountId) =>
        Array.from({ length: CHARGES_PER_ACCOUNT }, (_, i) => call(client, client.charge, charge(accountId, `${accountId}-${restart}-${i}`))),
      ),
    );
    const failures = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as { code: number; details: string }] : []));
    expect(failures.filter((f) => f.code === status.ABORTED).map((f) => f.details)).toEqual([]);
    expect(failures.map((f) => `${f.code} ${f.details}`)).toEqual([]);
  }
  // Every charge landed once: RESTARTS × CHARGES_PER_ACCOUNT replies of 5 credits.
  for (const accountId of accounts) {
    const balance = await call(client, client.getBalance, { accountId });
    expect(BigInt(balance.units[0]!.balanceMicros)).toBe(BigInt((1_100 - 5 * RESTARTS * CHARGES_PER_ACCOUNT) * CREDIT));
  }
  client.close();
});
