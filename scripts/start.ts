/**
 * Runs the whole platform: PostgreSQL (embedded when DATABASE_URL is unset),
 * the four services as separate processes, and the demo catalogues.
 * Ctrl-C stops everything cleanly.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { createClient, ROLES } from "@tollgate/grpc-kit";
import { ensurePostgres } from "@tollgate/postgres";
import { entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { loadCatalogue } from "./catalogue.js";
import { createLocalIssuer, ISSUER_FILE, localToken, trustEnv } from "./issuer.js";
import { demoCycleAnchor, deployDemoWork, HISTORY_DAYS, recordDemoUsage } from "./demo-usage.js";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { buildServices } from "./build-services.js";
import { startMailbox, type Mailbox } from "./mailbox.js";
import { spawnServices, superviseService, type ServiceName, type ServiceProcesses, type SupervisedService } from "./services.js";

const root = new URL("..", import.meta.url).pathname;
const host = process.env.GRPC_HOST ?? "127.0.0.1";
const ports = {
  entitlements: Number(process.env.ENTITLEMENTS_PORT ?? 50051),
  pricing: Number(process.env.PRICING_PORT ?? 50052),
  ledger: Number(process.env.LEDGER_PORT ?? 50053),
  notifications: Number(process.env.NOTIFICATIONS_PORT ?? 50054),
};
const log = (line: string) => console.log(`[start] ${line}`);

const postgres = await ensurePostgres({ log, callerHandlesSignals: true });
let services: ServiceProcesses | undefined;
let gateway: SupervisedService | undefined;
let mailbox: Mailbox | undefined;
const gatewayPort = Number(process.env.GATEWAY_PORT ?? 8080);
const demoUsers = process.env.GATEWAY_USERS ?? "viewer:viewer:viewer,operator:operator:operator,admin:admin:admin";
let stopping: Promise<never> | undefined;
let stoppingSince = 0;

/** Stops the gateway and the services, then PostgreSQL (removing an embedded one's data), then exits; once. */
function stopAll(code: number): Promise<never> {
  stoppingSince ||= Date.now();
  stopping ??= (async () => {
    log("stopping services…");
    await Promise.all([gateway?.stop(), services?.stop()]);
    await Promise.all([postgres.stop(), mailbox?.stop()]);
    log("stopped");
    process.exit(code);
  })();
  return stopping;
}

// Ctrl-C reaches this process more than once (from the terminal and relayed by npm and tsx): signals in the first
// seconds join the stop under way; one after that stops at once, leaving what is still running.
const onSignal = () => {
  if (stoppingSince && Date.now() - stoppingSince > 3_000) {
    log("stopping now, without waiting for the services");
    process.exit(130);
  }
  void stopAll(0);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// A closed terminal: stop as on Ctrl-C (an embedded PostgreSQL would otherwise outlive it; it reads SIGHUP as "reload").
process.on("SIGHUP", onSignal);

try {
  const hooks = {
    onLine: (name: ServiceName, line: string, stream: "stdout" | "stderr") => {
      if (line.includes('"msg":"listening"') && !process.env.VERBOSE) return;
      (stream === "stderr" ? console.error : console.log)(`${`[${name}]`.padEnd(16)}${line}`);
    },
    // A service that crashes is started again after a backoff, with a line saying so.
    supervise: { log },
  };
  // Authentication is on: a fresh issuer key for this run; the services trust it and carry a token of their own.
  const issuer = await createLocalIssuer();
  const day = 86_400;
  const auth = {
    ...trustEnv(issuer),
    AUTH_TOKEN: await localToken(issuer, "platform-services", ["service"], { ttlSeconds: 30 * day }),
  };
  // The ledger keeps idempotency keys 32 days here, so the 30 days of demo history can be reported as late usage (and replayed on restart).
  const retention = { IDEMPOTENCY_RETENTION_HOURS: process.env.IDEMPOTENCY_RETENTION_HOURS ?? String(32 * 24) };
  log("building the services (services/*/dist)…");
  await buildServices();
  // Spans recorded even with no exporter: the console's trace ids, receipts' notifications and search by trace id work.
  const traces = { TRACES_RECORDED: process.env.TRACES_RECORDED ?? "true" };
  // Without SMTP_URL the demo's emails go to a local mailbox: printed as [mail] and saved as .eml files.
  if (!process.env.SMTP_URL) mailbox = await startMailbox(join(root, ".tollgate", "mail"), (line) => console.log(`${"[mail]".padEnd(16)}${line}`));
  const mail: Record<string, string> = mailbox ? { SMTP_URL: mailbox.url } : {};
  services = await spawnServices({ databaseUrl: postgres.url, host, ports, env: { DB_POOL_MAX: process.env.DB_POOL_MAX ?? "4", ...retention, ...auth, ...traces, ...mail }, ...hooks });

  // The console: build it once, then the gateway serves it beside its API.
  const consoleDir = join(root, "admin", "dist");
  if (!existsSync(join(consoleDir, "index.html")) || process.env.REBUILD_CONSOLE) {
    log("building the console (admin/dist)…");
    execFileSync("npm", ["run", "build", "--workspace", "@tollgate/admin"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  }
  gateway = await superviseService(
    "gateway",
    {
      ...process.env,
      ...traces,
      DATABASE_URL: postgres.url,
      GATEWAY_HOST: host,
      GATEWAY_PORT: String(gatewayPort),
      // A free gateway port gets a free metrics port too (else 9465, beside the services' 9461–9464).
      ...(gatewayPort === 0 ? { GATEWAY_METRICS_PORT: "0" } : {}),
      GATEWAY_SECRET: process.env.GATEWAY_SECRET ?? randomBytes(32).toString("hex"),
      // The demo logins exist only here, when GATEWAY_USERS does not name the users.
      ...(process.env.GATEWAY_USERS ? {} : { GATEWAY_DEMO_USERS: "true" }),
      GATEWAY_STATIC_DIR: consoleDir,
      // The gateway acts for console users of every role.
      AUTH_TOKEN: await localToken(issuer, "gateway", ROLES, { ttlSeconds: 30 * day }),
      ...Object.fromEntries(Object.entries(services.addresses).map(([name, address]) => [`${name.toUpperCase()}_ADDRESS`, address])),
    },
    { ...hooks.supervise, onLine: hooks.onLine },
  );

  // The catalogues and demo usage are loaded as an admin and meter of their own.
  const loader = { credentials: await localToken(issuer, "npm-start", ["admin", "meter"]) };
  const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, services.addresses.entitlements, loader);
  const pricing = createClient(pricingV1.PricingServiceClient, services.addresses.pricing, loader);
  const catalogueDir = join(root, "catalogues");
  const loaded: string[] = [];
  for (const file of readdirSync(catalogueDir).filter((f) => f.endsWith(".yaml")).sort()) {
    const catalogue = await loadCatalogue(join(catalogueDir, file), { entitlements, pricing }, "demo", { cycleAnchor: demoCycleAnchor(new Date()) });
    loaded.push(`${catalogue.name} (${catalogue.plans.length} plans, ${catalogue.accounts.length} accounts)`);
  }
  const ledger = createClient(ledgerV1.LedgerServiceClient, services.addresses.ledger, loader);
  log(`seeding ${HISTORY_DAYS} days of demo history…`);
  const history = await recordDemoUsage(ledger, { progress: (done, total) => log(`demo history: ${done}/${total} charges`) });
  const deploymentCount = await deployDemoWork(ledger);
  ledger.close();
  entitlements.close();
  pricing.close();

  // The demo and the examples find the ledger at its default address; when it listens elsewhere, the lines say so.
  const ledgerEnv = `${host}:${ports.ledger}` === "127.0.0.1:50053" ? "" : `LEDGER_ADDRESS=${host}:${ports.ledger} `;
  console.log(`
Tollgate is running${postgres.embedded ? " on an embedded PostgreSQL" : ""}.

  entitlements   ${host}:${ports.entitlements}   tollgate.entitlements.v1.EntitlementsService     metrics ${services.metrics.entitlements}
  pricing        ${host}:${ports.pricing}   tollgate.pricing.v1.PricingService               metrics ${services.metrics.pricing}
  ledger         ${host}:${ports.ledger}   tollgate.ledger.v1.LedgerService                 metrics ${services.metrics.ledger}
  notifications  ${host}:${ports.notifications}   tollgate.notifications.v1.NotificationsService   metrics ${services.metrics.notifications}
  postgres       ${new URL(postgres.url).host}

Console: http://${gateway.address.replace(/^https?:\/\//, "")}/   (logins: ${demoUsers.split(",").map((u) => u.split(":").slice(0, 2).join(" / ")).join(", ")})${gateway.metrics ? `   metrics ${gateway.metrics}` : ""}

Demo data: ${loaded.join("; ")}; ${history.charged} charges of demo usage over the last ${HISTORY_DAYS} days${history.skipped ? ` (${history.skipped} too old for late usage, skipped)` : ""}; ${deploymentCount} deployments running on demo-enterprise (guardrail, script, model)
Emails:   ${mailbox ? `a local mailbox (SMTP_URL unset): each is printed as [mail] and saved in ${mailbox.dir.replace(`${root}`, "")}` : `sent through ${new URL(process.env.SMTP_URL!).host}`}
Try it:   ${ledgerEnv}npm run demo        (Authorize → Charge on account demo-support, shows the balance drop)
Inspect:  grpcurl -plaintext ${host}:${ports.ledger} list      (reflection and health checks need no credential)
Credentials: every RPC needs one, signed by this run's issuer (${ISSUER_FILE.replace(root, "")}):
          npm run -s token -- --role meter [--role support|admin|service] [--account demo-support] [--ttl 1h]
          grpcurl -plaintext -H "authorization: Bearer $(npm run -s token -- --role meter)" -d '{"account_id":"demo-support"}' \\
            ${host}:${ports.ledger} tollgate.ledger.v1.LedgerService/GetBalance
Press Ctrl-C to stop.
`);
} catch (error) {
  console.error(`[start] ${(error as Error).message}`);
  await stopAll(1);
}
