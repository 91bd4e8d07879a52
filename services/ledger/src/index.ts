import { LogFollower, openDatabase } from "@tollgate/db";
import { createClient, mikroOrmScope, startGrpcServer, type RunningServer, type RateLimit, type ServerAuth, type Credential } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { AccountCache } from "./data/account-cache.js";
import { ledgerEntities } from "./data/entities.js";
import { PostgresLedgerStore } from "./data/ledger-store.js";
import { migrations } from "./data/migrations/index.js";
import { RateCache } from "./data/rate-cache.js";
import { Ledger } from "./domain/ledger.js";
import { ledgerHandlers } from "./transport/ledger-handlers.js";

export interface LedgerServiceOptions {
  databaseUrl: string;
  port: number;
  host?: string;
  poolMax?: number;
  entitlementsAddress: string;
  pricingAddress: string;
  /** Who may call this service. */
  auth: ServerAuth;
  /** The credential this service sends to the services it calls. */
  credentials?: Credential;
  reflection?: boolean;
  /** Calls per second per principal (unset: no limit). */
  rateLimit?: RateLimit;
  /** How often expired holds are swept (0 disables the sweeper). */
  sweepIntervalMs?: number;
  /** How often running runs and deployments are charged for their time (0 disables the meter). */
  meterIntervalMs?: number;
  /** How long idempotency keys are kept (at least 24 h; default 7 days). */
  idempotencyRetentionMs?: number;
  /** Authorize/Charge transactions in flight at once, each carrying every call that queued meanwhile (0: one transaction per call). */
  groupCommitLanes?: number;
}

export interface LedgerService {
  address: string;
  server: RunningServer;
  stop(): Promise<void>;
}

export async function startLedgerService(options: LedgerServiceOptions): Promise<LedgerService> {
  const orm = await openDatabase({
    url: options.databaseUrl,
    schema: "ledger",
    entities: ledgerEntities,
    migrations,
    ...(options.poolMax ? { poolMax: options.poolMax } : {}),
  });
  const store = new PostgresLedgerStore(() => orm.em.getContext(), options.groupCommitLanes ?? 4);
  // Every call to entitlements and pricing (watch streams and their unary fallbacks) carries the ledger's credential.
  const credentials = options.credentials ? { credentials: options.credentials } : {};
  const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, options.entitlementsAddress, credentials);
  const pricing = createClient(pricingV1.PricingServiceClient, options.pricingAddress, credentials);
  const accounts = new AccountCache(entitlements);
  const rates = new RateCache(pricing);
  const ledger = new Ledger(store, accounts, rates);
  const events = new LogFollower((after, limit) => store.outboxAfter(after, limit), (row) => BigInt(row.sequence), 250);
  const scope = mikroOrmScope(orm.em);
  const handlers = ledgerHandlers(ledger, store, events, { scope });
  const server = await startGrpcServer({
    services: [{ name: "tollgate.ledger.v1.LedgerService", definition: ledgerV1.LedgerServiceService, implementation: handlers }],
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    auth: options.auth,
    ...(options.reflection === undefined ? {} : { reflection: options.reflection }),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
  });

  const sweepIntervalMs = options.sweepIntervalMs ?? 5_000;
  const retentionMs = Math.max(options.idempotencyRetentionMs ?? 7 * 86_400_000, 86_400_000);
  const sweeper =
    sweepIntervalMs > 0
      ? setInterval(() => {
          scope(async () => {
            await store.sweepExpiredHolds(500);
            await store.pruneIdempotencyKeys(retentionMs, 1_000);
            if ((await store.sweepExpiredPools(100)) > 0) events.notify();
          }).catch((error: unknown) => console.error("[ledger] expiry sweep failed", error));
        }, sweepIntervalMs)
      : undefined;
  sweeper?.unref();

  // The metering tick: long runs and deployments are charged as they go, and stopped when the money is gone.
  const meterIntervalMs = options.meterIntervalMs ?? 10_000;
  const meter =
    meterIntervalMs > 0
      ? setInterval(() => {
          scope(async () => {
            if ((await ledger.meterDue(meterIntervalMs)) > 0) events.notify();
          }).catch((error: unknown) => console.error("[ledger] metering tick failed", error));
        }, meterIntervalMs)
      : undefined;
  meter?.unref();

  return {
    address: server.address,
    server,
    async stop() {
      if (sweeper) clearInterval(sweeper);
      if (meter) clearInterval(meter);
      await server.drain();
      accounts.stop();
      rates.stop();
      entitlements.close();
      pricing.close();
      await orm.close();
    },
  };
}
