/** B-grpc-noop: a grpc-js server with the ledger's contract whose Authorize and Charge answer canned responses. */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { ledgerV1 } from "@tollgate/proto";

const authorize: ledgerV1.AuthorizeResponse = ledgerV1.AuthorizeResponse.fromPartial({
  allowed: true,
  holdId: "00000000-0000-4000-8000-000000000000",
  amountMicros: "1000000",
  availableMicros: "1000000000",
  metered: true,
  rateTableVersion: "1",
  expiresAt: new Date(),
});
const charge: ledgerV1.ChargeResponse = ledgerV1.ChargeResponse.fromPartial({ chargedMicros: "1000000", balanceMicros: "999000000", proceed: true, entryId: "1" });

const server = new Server();
server.addService(ledgerV1.LedgerServiceService, {
  authorize: (_call: unknown, callback: (error: null, response: ledgerV1.AuthorizeResponse) => void) => callback(null, authorize),
  charge: (_call: unknown, callback: (error: null, response: ledgerV1.ChargeResponse) => void) => callback(null, charge),
});
server.bindAsync(`127.0.0.1:${process.env.PORT ?? 0}`, ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  console.log(JSON.stringify({ msg: "listening", address: `127.0.0.1:${port}` }));
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
