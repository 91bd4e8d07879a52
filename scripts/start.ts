/**
 * Runs the whole platform: PostgreSQL (embedded when DATABASE_URL is unset),
 * the four services as separate processes, and the demo catalogues.
 * Ctrl-C stops everything cleanly.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@tollgate/grpc-kit";
import { ensurePostgres } from "@tollgate/postgres";
import { entitlementsV1, pricingV1 } from "@tollgate/proto";
import { loadCatalogue } from "./catalogue.js";
import { spawnServices, type ServiceName, type ServiceProcesses } from "./services.js";

const root = new URL("..", import.meta.url).pathname;
const host = process.env.GRPC_HOST ?? "127.0.0.1";
const ports = {
  entitlements: Number(process.env.ENTITLEMENTS_PORT ?? 50051),
  pricing: Number(process.env.PRICING_PORT ?? 50052),
  ledger: Number(process.env.LEDGER_PORT ?? 50053),
  notifications: Number(process.env.NOTIFICATIONS_PORT ?? 50054),
};
const log = (line: string) => console.log(`[start] ${line}`);

const postgres = await ensurePostgres({ log });
let services: ServiceProcesses | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log("stopping services…");
    await services?.stop();
    await postgres.stop();
    log("stopped");
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

try {
  services = await spawnServices({
    databaseUrl: postgres.url,
    host,
    ports,
    env: { DB_POOL_MAX: process.env.DB_POOL_MAX ?? "4" },
    onLine: (name: ServiceName, line, stream) => {
      if (line.includes('"msg":"listening"') && !process.env.VERBOSE) return;
      (stream === "stderr" ? console.error : console.log)(`${`[${name}]`.padEnd(16)}${line}`);
    },
  });
  void services.exited.then(({ name, code }) => {
    log(`${name} exited (code ${code}); stopping the platform`);
    void stopAll(1);
  });

  const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, services.addresses.entitlements);
  const pricing = createClient(pricingV1.PricingServiceClient, services.addresses.pricing);
  const catalogueDir = join(root, "catalogues");
  const loaded: string[] = [];
  for (const file of readdirSync(catalogueDir).filter((f) => f.endsWith(".yaml")).sort()) {
    const catalogue = await loadCatalogue(join(catalogueDir, file), { entitlements, pricing }, "demo");
    loaded.push(`${catalogue.name} (${catalogue.plans.length} plans, ${catalogue.accounts.length} accounts)`);
  }
  entitlements.close();
  pricing.close();

  console.log(`
Tollgate is running${postgres.embedded ? " on an embedded PostgreSQL" : ""}.

  entitlements   ${host}:${ports.entitlements}   tollgate.entitlements.v1.EntitlementsService
  pricing        ${host}:${ports.pricing}   tollgate.pricing.v1.PricingService
  ledger         ${host}:${ports.ledger}   tollgate.ledger.v1.LedgerService
  notifications  ${host}:${ports.notifications}   tollgate.notifications.v1.NotificationsService
  postgres       ${new URL(postgres.url).host}

Demo data: ${loaded.join("; ")}
Try it:   npm run demo        (Authorize → Charge on account demo-support, shows the balance drop)
Inspect:  grpcurl -plaintext ${host}:${ports.ledger} list      (reflection is on)
Press Ctrl-C to stop.
`);
} catch (error) {
  console.error(`[start] ${(error as Error).message}`);
  await stopAll(1);
}
