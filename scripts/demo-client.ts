/** Authorize → Charge against a running platform, printing the balance before and after. */
import { call, createClient } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1 } from "@tollgate/proto";
import { localToken, readLocalIssuer } from "./issuer.js";

const address = process.env.LEDGER_ADDRESS ?? "127.0.0.1:50053";
const accountId = process.argv[2] ?? "demo-support";
const model = process.argv[3] ?? "gpt-4o";
// A meter credential for this one account: TOLLGATE_TOKEN, or one signed by the running npm start's issuer.
const token = process.env.TOLLGATE_TOKEN ?? (await localToken(readLocalIssuer(), "demo-client", ["meter"], { accounts: [accountId], ttlSeconds: 300 }));
const ledger = createClient(ledgerV1.LedgerServiceClient, address, { credentials: token });
const credits = (micros: string) => `${(Number(BigInt(micros)) / 1e6).toLocaleString("en", { maximumFractionDigits: 6 })} credits`;
const run = `${Date.now()}`;

const creditsOf = (balance: ledgerV1.GetBalanceResponse) => balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS)!;
const usage = { kind: { $case: "modelReply" as const, modelReply: { model, replies: "1" } } };

const before = creditsOf(await call(ledger, ledger.getBalance, { accountId }));
console.log(`balance of ${accountId}: ${credits(before.availableMicros)} available`);

const hold = await call(ledger, ledger.authorize, {
  accountId,
  estimate: usage,
  attribution: commonV1.Attribution.fromPartial({ agentId: "demo-agent", conversationId: `demo-${run}`, model, surface: commonV1.Surface.SURFACE_CLI }),
  idempotencyKey: `demo-authorize-${run}`,
  workKind: commonV1.WorkKind.WORK_KIND_MODEL_REPLY,
  ttlMs: "60000",
  context: undefined,
});
if (!hold.allowed) {
  console.log(`Authorize denied: ${ledgerV1.denialReasonToJSON(hold.reason)}`);
  process.exit(1);
}
console.log(`Authorize: hold ${hold.holdId} for ${credits(hold.amountMicros)} (rate table v${hold.rateTableVersion})`);

const charge = await call(ledger, ledger.charge, {
  accountId,
  holdId: hold.holdId,
  usage,
  final: true,
  idempotencyKey: `demo-charge-${run}`,
  attribution: undefined,
  context: undefined,
  occurredAt: undefined, workKind: 0,
});
console.log(`Charge(final): charged ${credits(charge.chargedMicros)}, released ${credits(charge.releasedMicros)}, proceed=${charge.proceed}`);

const after = creditsOf(await call(ledger, ledger.getBalance, { accountId }));
console.log(`balance of ${accountId}: ${credits(after.availableMicros)} available (was ${credits(before.availableMicros)})`);
ledger.close();
