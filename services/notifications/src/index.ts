import { openDatabase } from "@tollgate/db";
import { call, upstream, createClient, mikroOrmScope, startGrpcServer, type RunningServer } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1 } from "@tollgate/proto";
import { currentTraceId, currentTraceparent } from "@tollgate/telemetry";
import { BannerSchema, ConsumerOffsetSchema } from "./data/banner.entity.js";
import { EmailChannel } from "./data/channels/email.js";
import { WebhookChannel } from "./data/channels/webhook.js";
import { DeliverySchema, PreferencesSchema } from "./data/delivery.entity.js";
import { DeliveryWorker } from "./data/delivery-worker.js";
import { LedgerConsumer } from "./data/ledger-consumer.js";
import { migrations } from "./data/migrations/index.js";
import { PostgresNotificationsStore } from "./data/notifications-store.js";
import { DEFAULT_RULES, decide, runOutWarning, type PlanRules, type Recipients } from "./domain/rules.js";
import { notificationsHandlers } from "./transport/notifications-handlers.js";

export interface NotificationsServiceOptions {
  databaseUrl: string;
  port: number;
  host?: string;
  poolMax?: number;
  ledgerAddress: string;
  entitlementsAddress: string;
  /** e.g. smtp://127.0.0.1:2525; without it emails stay pending with an error. */
  smtpUrl?: string;
  emailFrom?: string;
  serviceToken?: string;
  deliveryPollMs?: number;
  retryBaseMs?: number;
  maxAttempts?: number;
}

export interface NotificationsService {
  address: string;
  server: RunningServer;
  stop(): Promise<void>;
}

export async function startNotificationsService(options: NotificationsServiceOptions): Promise<NotificationsService> {
  const orm = await openDatabase({
    url: options.databaseUrl,
    schema: "notifications",
    entities: [BannerSchema, ConsumerOffsetSchema, DeliverySchema, PreferencesSchema],
    migrations,
    ...(options.poolMax ? { poolMax: options.poolMax } : {}),
  });
  const store = new PostgresNotificationsStore(() => orm.em.getContext());
  const scope = mikroOrmScope(orm.em);
  const token = options.serviceToken ? { serviceToken: options.serviceToken } : {};
  const ledger = createClient(ledgerV1.LedgerServiceClient, options.ledgerAddress);
  const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, options.entitlementsAddress);
  const email = options.smtpUrl ? new EmailChannel(options.smtpUrl, options.emailFrom ?? "Tollgate <notifications@tollgate.local>") : undefined;

  const worker = new DeliveryWorker(
    store,
    scope,
    { ...(email ? { email } : {}), webhook: new WebhookChannel() },
    async (accountId, url) => (await store.preferences(accountId))?.webhooks.find((w) => w.url === url)?.secret,
    {
      pollMs: options.deliveryPollMs ?? 1_000,
      leaseMs: 30_000,
      retryBaseMs: options.retryBaseMs ?? 1_000,
      maxAttempts: options.maxAttempts ?? 8,
    },
  );

  /** The account's plan rules and who hears about it. */
  async function audience(accountId: string): Promise<{ rules: PlanRules; recipients: Recipients }> {
    const { account, plan } = await upstream(call(entitlements, entitlements.getAccount, { accountId }, token));
    const t = plan?.thresholds;
    const rules: PlanRules = t
      ? {
          bannerPercents: t.bannerPercents,
          emailPercents: t.emailPercents,
          upgradePromptPercent: plan?.freeTier && !t.upgradePromptPercent ? 75 : t.upgradePromptPercent,
          referralPromptPercent: t.referralPromptPercent,
          freeTier: plan?.freeTier ?? false,
        }
      : DEFAULT_RULES;
    const preferences = await store.preferences(accountId);
    return {
      rules,
      recipients: {
        emails: preferences?.emailRecipients.length ? preferences.emailRecipients : (account?.adminEmails ?? []),
        webhooks: preferences?.webhooks ?? [],
        channelsByRule: preferences?.channelsByRule ?? {},
      },
    };
  }

  /** Icon and run-out projection, from the ledger (the one place they are computed). */
  async function accountState(accountId: string) {
    const balance = await upstream(call(ledger, ledger.getBalance, { accountId }, token));
    const main = balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS) ?? balance.units[0];
    return {
      statusIcon: main?.statusIcon ?? ledgerV1.StatusIcon.STATUS_ICON_UNSPECIFIED,
      willRunOut: balance.cycle?.willRunOutBeforeCycleEnd ?? false,
      cycleStart: balance.cycle?.cycleStart,
    };
  }

  const consumer = new LedgerConsumer(ledger, store, scope, async (event) => {
    let decisions: ReturnType<typeof decide> = { banners: [], deliveries: [] };
    if (event.facts) {
      const { rules, recipients } = await audience(event.facts.accountId);
      decisions = decide(event.facts, rules, recipients);
      // Run-out projection: checked when usage crosses a threshold; once per cycle.
      if (event.facts.kind === "threshold_crossed") {
        const state = await accountState(event.facts.accountId);
        if (state.willRunOut) {
          const runOut = runOutWarning(event.facts.accountId, event.facts.cycle, recipients);
          decisions = { banners: [...decisions.banners, ...runOut.banners], deliveries: [...decisions.deliveries, ...runOut.deliveries] };
        }
      }
    }
    await store.recordEvent("notifications", event.sequence, decisions, { traceId: currentTraceId(), traceparent: currentTraceparent() });
    if (decisions.deliveries.length > 0) worker.wake();
  });

  const server = await startGrpcServer({
    services: [
      {
        name: "tollgate.notifications.v1.NotificationsService",
        definition: notificationsV1.NotificationsServiceService,
        implementation: notificationsHandlers(store, worker, accountState, { scope, ...token }),
      },
    ],
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
  });
  await consumer.start();
  worker.start();
  return {
    address: server.address,
    server,
    async stop() {
      consumer.stop();
      await worker.stop();
      await server.drain();
      ledger.close();
      entitlements.close();
      email?.close();
      await orm.close();
    },
  };
}
