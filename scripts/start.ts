/**
 * Runs the whole platform: PostgreSQL (embedded when DATABASE_URL is unset),
 * the four services as separate processes, and the demo catalogues.
 * Ctrl-C stops everything cleanly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createClient } from "@tollgate/grpc-kit";
import { ensurePostgres } from "@tollgate/postgres";
import { entitlementsV1, pricingV1 } from "@tollgate/proto";
import { loadCatalogue } from "./catalogue.js";

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
const children: ChildProcess[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log("stopping services…");
    await Promise.all(
      children.filter((child) => child.exitCode === null).map(
        (child) =>
          new Promise<void>((resolve) => {
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
            setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
          }),
      ),
    );
    await postgres.stop();
    log("stopped");
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

function startService(name: keyof typeof ports): Promise<void> {
  const env = {
    ...process.env,
    DATABASE_URL: postgres.url,
    GRPC_HOST: host,
    ENTITLEMENTS_PORT: String(ports.entitlements),
    PRICING_PORT: String(ports.pricing),
    LEDGER_PORT: String(ports.ledger),
    NOTIFICATIONS_PORT: String(ports.notifications),
    ENTITLEMENTS_ADDRESS: `${host}:${ports.entitlements}`,
    PRICING_ADDRESS: `${host}:${ports.pricing}`,
    LEDGER_ADDRESS: `${host}:${ports.ledger}`,
    DB_POOL_MAX: process.env.DB_POOL_MAX ?? "4",
  };
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "services", name, "src", "main.ts")], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const prefix = `[${name}]`.padEnd(16);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes('"msg":"listening"')) resolve();
      if (process.env.VERBOSE || !line.includes('"msg":"listening"')) console.log(`${prefix}${line}`);
    });
    createInterface({ input: child.stderr! }).on("line", (line) => console.error(`${prefix}${line}`));
    child.once("exit", (code) => {
      if (!stopping) {
        reject(new Error(`${name} exited with code ${code}`));
        log(`${name} exited (code ${code}); stopping the platform`);
        void stopAll(1);
      }
    });
  });
}

try {
  // Entitlements and pricing first: the ledger reads them, notifications reads the ledger.
  await Promise.all([startService("entitlements"), startService("pricing")]);
  await startService("ledger");
  await startService("notifications");

  const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, `${host}:${ports.entitlements}`);
  const pricing = createClient(pricingV1.PricingServiceClient, `${host}:${ports.pricing}`);
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
