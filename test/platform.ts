import { startEntitlementsService, type EntitlementsService } from "@tollgate/entitlements";
import { startLedgerService, type LedgerService } from "@tollgate/ledger";
import { startNotificationsService, type NotificationsService } from "@tollgate/notifications";
import { startPricingService, type PricingService } from "@tollgate/pricing";
import { readFileSync } from "node:fs";
import { createClient, ROLES, stopInOrder, type ChannelTls, type ClientOptions, type Role, type ServerAuth, type ServerTls } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";
import { TEST_PRINCIPAL, testIssuer, type TestIssuer } from "@tollgate/testing";

export interface Platform {
  entitlements: EntitlementsService;
  pricing: PricingService;
  ledger: LedgerService;
  notifications: NotificationsService;
  clients: {
    entitlements: entitlementsV1.EntitlementsServiceClient;
    pricing: pricingV1.PricingServiceClient;
    ledger: ledgerV1.LedgerServiceClient;
    notifications: notificationsV1.NotificationsServiceClient;
  };
  /** Mints the test clients' credentials (undefined with `auth: false`). */
  issuer: TestIssuer | undefined;
  /** The principal the test clients call as (every role). */
  principal: string;
  /** How the services check callers, for a service a test restarts. */
  auth: ServerAuth;
  /** Where each service listens now (a test may have restarted one), as the gateway takes them. */
  readonly addresses: { entitlements: string; pricing: string; ledger: string; notifications: string };
  /** Client options for a service's own calls (ledger, notifications; the gateway with every role). */
  serviceCredentials(name: string, roles?: readonly Role[]): ClientOptions;
  stop(): Promise<void>;
}

/** All four services in this process, on free loopback ports, on one database (a schema each). */
export interface PlatformOptions {
  smtpUrl?: string;
  retryBaseMs?: number;
  maxAttempts?: number;
  /** How often running work is charged (200 ms by default; a test that moves time itself sets it out of the way). */
  meterIntervalMs?: number;
  /** Authentication is on unless a test turns it off. */
  auth?: boolean;
  /** How long a broken Meter stream's hold waits for a reconnect (the ledger's default unless set). */
  meterGraceMs?: number;
  /** How long the ledger keeps idempotency keys (late usage may be no older); default 7 days. */
  idempotencyRetentionMs?: number;
  /** The time the ledger decides commands at (the system clock unless set). */
  now?: () => Date;
  /** Every service serves TLS with test/tls's certificate for 127.0.0.1, and every client checks it (plaintext unless set). */
  tls?: boolean;
}

/** test/tls: a self-signed certificate for 127.0.0.1 and its key, for tests only (test/tls/README.md). */
export const TEST_TLS: { server: ServerTls; channel: ChannelTls } = (() => {
  const certChain = readFileSync(new URL("./tls/service.crt", import.meta.url));
  return { server: { certChain, privateKey: readFileSync(new URL("./tls/service.key", import.meta.url)) }, channel: { rootCerts: certChain } };
})();

export async function startPlatform(databaseUrl: string, options: PlatformOptions = {}): Promise<Platform> {
  const issuer = options.auth === false ? undefined : await testIssuer();
  const auth: ServerAuth = issuer ? issuer.auth : { disabled: true };
  const tls = options.tls ? { tls: TEST_TLS.server } : {};
  const channelTls = options.tls ? { channelTls: TEST_TLS.channel } : {};
  const serviceCredentials = (name: string, roles: readonly Role[] = ["service"]): ClientOptions =>
    issuer ? { credentials: issuer.credential(name, roles) } : {};
  const clientOptions: ClientOptions = { ...(issuer ? { credentials: issuer.credential(TEST_PRINCIPAL, ROLES) } : {}), ...channelTls };
  const entitlements = await startEntitlementsService({ databaseUrl, port: 0, poolMax: 4, auth, ...tls });
  const pricing = await startPricingService({ databaseUrl, port: 0, poolMax: 4, auth, ...tls });
  const ledger = await startLedgerService({
    databaseUrl,
    port: 0,
    poolMax: 4,
    entitlementsAddress: entitlements.address,
    pricingAddress: pricing.address,
    sweepIntervalMs: 200,
    meterIntervalMs: options.meterIntervalMs ?? 200,
    reconcileIntervalMs: 100,
    ...(options.meterGraceMs === undefined ? {} : { meterGraceMs: options.meterGraceMs }),
    ...(options.idempotencyRetentionMs === undefined ? {} : { idempotencyRetentionMs: options.idempotencyRetentionMs }),
    ...(options.now ? { now: options.now } : {}),
    auth,
    ...tls,
    ...channelTls,
    ...serviceCredentials("ledger"),
  });
  const notifications = await startNotificationsService({
    databaseUrl,
    port: 0,
    poolMax: 4,
    ledgerAddress: ledger.address,
    entitlementsAddress: entitlements.address,
    deliveryPollMs: 100,
    retryBaseMs: options.retryBaseMs ?? 50,
    maxAttempts: options.maxAttempts ?? 5,
    ...(options.smtpUrl ? { smtpUrl: options.smtpUrl } : {}),
    // The tests' webhook receivers listen on loopback, which webhooks may not reach by default.
    webhookAllowedNetworks: ["127.0.0.0/8"],
    auth,
    ...tls,
    ...channelTls,
    ...serviceCredentials("notifications"),
  });
  const clients = {
    entitlements: createClient(entitlementsV1.EntitlementsServiceClient, entitlements.address, clientOptions),
    pricing: createClient(pricingV1.PricingServiceClient, pricing.address, clientOptions),
    ledger: createClient(ledgerV1.LedgerServiceClient, ledger.address, clientOptions),
    notifications: createClient(notificationsV1.NotificationsServiceClient, notifications.address, clientOptions),
  };
  const platform: Platform = {
    entitlements,
    pricing,
    ledger,
    notifications,
    clients,
    issuer,
    principal: TEST_PRINCIPAL,
    auth,
    serviceCredentials,
    get addresses() {
      return { entitlements: platform.entitlements.address, pricing: platform.pricing.address, ledger: platform.ledger.address, notifications: platform.notifications.address };
    },
    stop: () =>
      // Every service, even after one failed to stop cleanly (each bounds its own steps; the test then fails with what went wrong).
      // `platform.notifications`, `platform.ledger`: a test may have replaced the instance (restart tests).
      stopInOrder("test platform", {
        clients: () => Object.values(clients).forEach((client) => client.close()),
        notifications: () => platform.notifications.stop(),
        ledger: () => platform.ledger.stop(),
        pricing: () => pricing.stop(),
        entitlements: () => entitlements.stop(),
      }, { stepTimeoutMs: 60_000, totalTimeoutMs: 180_000 }),
  };
  return platform;
}
