import { startEntitlementsService, type EntitlementsService } from "@tollgate/entitlements";
import { startLedgerService, type LedgerService } from "@tollgate/ledger";
import { startNotificationsService, type NotificationsService } from "@tollgate/notifications";
import { startPricingService, type PricingService } from "@tollgate/pricing";
import { createClient } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";

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
  stop(): Promise<void>;
}

/** All four services in this process, on free loopback ports, on one database (a schema each). */
export interface PlatformOptions {
  smtpUrl?: string;
  retryBaseMs?: number;
  maxAttempts?: number;
}

export async function startPlatform(databaseUrl: string, options: PlatformOptions = {}): Promise<Platform> {
  const entitlements = await startEntitlementsService({ databaseUrl, port: 0, poolMax: 4 });
  const pricing = await startPricingService({ databaseUrl, port: 0, poolMax: 4 });
  const ledger = await startLedgerService({
    databaseUrl,
    port: 0,
    poolMax: 4,
    entitlementsAddress: entitlements.address,
    pricingAddress: pricing.address,
    sweepIntervalMs: 200,
    meterIntervalMs: 200,
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
  });
  const clients = {
    entitlements: createClient(entitlementsV1.EntitlementsServiceClient, entitlements.address),
    pricing: createClient(pricingV1.PricingServiceClient, pricing.address),
    ledger: createClient(ledgerV1.LedgerServiceClient, ledger.address),
    notifications: createClient(notificationsV1.NotificationsServiceClient, notifications.address),
  };
  const platform: Platform = {
    entitlements,
    pricing,
    ledger,
    notifications,
    clients,
    async stop() {
      Object.values(clients).forEach((client) => client.close());
      // `platform.notifications`, `platform.ledger`: a test may have replaced the instance (restart tests).
      await platform.notifications.stop();
      await platform.ledger.stop();
      await pricing.stop();
      await entitlements.stop();
    },
  };
  return platform;
}
