import { trace } from "@opentelemetry/api";
import { CallAuditLog, connectionPool, every, openDatabase, PostgresIdempotencyStore, retentionMs } from "@tollgate/db";
import { call, upstream, createClient, mikroOrmScope, startGrpcServer, stopInOrder, together, type RunningServer, type RateLimit, type ServerAuth, type ServerTls, type Credential, type ChannelTls } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1 } from "@tollgate/proto";
import { currentTraceId, currentTraceparent, log, startMetrics } from "@tollgate/telemetry";
import { BannerSchema, ConsumerOffsetSchema } from "./data/banner.entity.js";
import { EmailChannel } from "./data/channels/email.js";
import { OutboundAddressPolicy } from "./data/channels/outbound-address.js";
import { WebhookChannel } from "./data/channels/webhook.js";
import { DeliverySchema, PreferencesSchema } from "./data/delivery.entity.js";
import { DeliveryWorker } from "./data/delivery-worker.js";
import { LedgerConsumer } from "./data/ledger-consumer.js";
import { migrations } from "./data/migrations/index.js";
import { IDEMPOTENCY_KEYS, PostgresNotificationsStore } from "./data/notifications-store.js";
import { projectRunOut } from "@tollgate/projection";
import { decide, NO_RULES, promptsShown, runOutWarning, type PlanRules, type Recipients } from "./domain/rules.js";
import { NotificationsMetrics } from "./metrics.js";
import { notificationsHandlers } from "./transport/notifications-handlers.js";

export interface NotificationsServiceOptions {
  databaseUrl: string;
  port: number;
  host?: string;
  poolMax?: number;
  ledgerAddress: string;
  entitlementsAddress: string;
  /** e.g. smtp://127.0.0.1:2525; without it emails stay pending, for a replica that has one. */
  smtpUrl?: string;
  emailFrom?: string;
  /** Who may call this service. */
  auth: ServerAuth;
  /** The credential this service sends to the services it calls. */
  credentials?: Credential;
  reflection?: boolean;
  /** Calls per second per principal (unset: no limit). */
  rateLimit?: RateLimit;
  /** TLS on the gRPC port (unset: plaintext). */
  tls?: ServerTls;
  /** TLS on its calls to the other services: the CA certificates theirs are checked against (unset: plaintext). */
  channelTls?: ChannelTls;
  deliveryPollMs?: number;
  retryBaseMs?: number;
  maxAttempts?: number;
  /** Networks webhooks may reach although loopback, private or link-local (e.g. `127.0.0.0/8` in tests); none by default. */
  webhookAllowedNetworks?: string[];
  /** Port of the Prometheus endpoint `/metrics` (0 or unset: a free port, see `metrics.port`). */
  metricsPort?: number;
  /** How long delivered emails and webhooks stay in the log (default 30 days). */
  deliveredRetentionMs?: number;
  /** How long the idempotency keys of resends, dismissals and preference changes are kept (default 7 days; never less than 24 hours). */
  idempotencyRetentionMs?: number;
  /** How often delivered rows and idempotency keys past their retention are pruned (default hourly; 0: never). */
  pruneIntervalMs?: number;
}

export interface NotificationsService {
  address: string;
  server: RunningServer;
  metrics: { port: number; url: string };
  stop(): Promise<void>;
}

export async function startNotificationsService(options: NotificationsServiceOptions): Promise<NotificationsService> {
  // Admin and refused calls are written to the platform's audit log (the `audit` schema the gateway shows).
  const audit = await CallAuditLog.open(options.databaseUrl);
  const orm = await openDatabase({
    url: options.databaseUrl,
    schema: "notifications",
    entities: [BannerSchema, ConsumerOffsetSchema, DeliverySchema, PreferencesSchema],
    migrations,
    ...(options.poolMax ? { poolMax: options.poolMax } : {}),
  });
  const store = new PostgresNotificationsStore(() => orm.em.getContext());
  const idempotency = new PostgresIdempotencyStore(() => orm.em.getContext(), IDEMPOTENCY_KEYS);
  const telemetry = await startMetrics({
    serviceName: "tollgate-notifications",
    port: options.metricsPort ?? 0,
    ...(options.host ? { host: options.host } : {}),
    connectionPool: { name: "notifications", pool: await connectionPool(orm) },
  });
  // The consumer is made below; the lag gauge reads it at collection time.
  const metrics = new NotificationsMetrics(telemetry.meter, { outboxLag: () => consumer.lag() });
  const scope = mikroOrmScope(orm.em);
  // StreamEvents, GetBalance and the entitlements reads carry the service's credential.
  const credentials = { ...(options.credentials ? { credentials: options.credentials } : {}), ...(options.channelTls ? { channelTls: options.channelTls } : {}) };
  const ledger = createClient(ledgerV1.LedgerServiceClient, options.ledgerAddress, credentials);
  const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, options.entitlementsAddress, credentials);
  const email = options.smtpUrl ? new EmailChannel(options.smtpUrl, options.emailFrom ?? "Tollgate <notifications@tollgate.local>") : undefined;

  const worker = new DeliveryWorker(
    store,
    scope,
    { ...(email ? { email } : {}), webhook: new WebhookChannel({ allowedNetworks: options.webhookAllowedNetworks ?? [] }) },
    async (accountId, url) => (await store.preferences(accountId))?.webhooks.find((w) => w.url === url)?.secret,
    {
      pollMs: options.deliveryPollMs ?? 1_000,
      leaseMs: 30_000,
      retryBaseMs: options.retryBaseMs ?? 1_000,
      maxAttempts: options.maxAttempts ?? 8,
    },
    (channel, outcome) => metrics.delivery(channel, outcome),
  );

  /** The account (its admins) and its plan's notification rules. */
  async function planOf(accountId: string): Promise<{ account: entitlementsV1.Account | undefined; rules: PlanRules }> {
    const { account, plan } = await upstream(call(entitlements, entitlements.getAccount, { accountId }));
    const t = plan?.thresholds;
    const rules: PlanRules = t
      ? {
          bannerPercents: t.bannerPercents,
          emailPercents: t.emailPercents,
          upgradePromptPercent: t.upgradePromptPercent, // a free tier's default is entitlements' (planToProto)
          referralPromptPercent: t.referralPromptPercent,
          freeTier: plan?.freeTier ?? false,
        }
      : NO_RULES;
    return { account, rules };
  }

  /** The account's plan rules and who hears about it. */
  async function audience(accountId: string): Promise<{ rules: PlanRules; recipients: Recipients }> {
    const [{ account, rules }, preferences] = await Promise.all([planOf(accountId), store.preferences(accountId)]);
    return {
      rules,
      recipients: {
        emails: preferences?.emailRecipients.length ? preferences.emailRecipients : (account?.adminEmails ?? []),
        adminEmails: account?.adminEmails ?? [],
        webhooks: preferences?.webhooks ?? [],
        channelsByRule: preferences?.channelsByRule ?? {},
      },
    };
  }

  /** The ledger's status icon, and the run-out projection (@tollgate/projection, the ledger's own rule) from the usage history the ledger reports. */
  async function accountState(accountId: string) {
    const balance = await upstream(call(ledger, ledger.getBalance, { accountId }));
    const main = balance.units.find((u) => u.unit === commonV1.Unit.UNIT_CREDITS) ?? balance.units[0];
    const cycleEnd = balance.cycle?.cycleEnd ?? new Date(0);
    const runOutAt = main
      ? projectRunOut(
          {
            cycleEnd,
            availableMicros: BigInt(main.availableMicros),
            usedMicros: BigInt(main.usedMicros),
            usageEvents: balance.cycle?.usageEvents ?? 0,
            firstUsageAt: balance.cycle?.firstUsageAt,
          },
          new Date(),
        )
      : undefined;
    const granted = BigInt(main?.grantedMicros ?? "0");
    const used = granted - BigInt(main?.balanceMicros ?? "0");
    return {
      statusIcon: main?.statusIcon ?? ledgerV1.StatusIcon.STATUS_ICON_UNSPECIFIED,
      willRunOut: runOutAt !== undefined,
      runOutAt,
      cycleEnd,
      /** Of the main unit's cycle allotment (the thresholds' measure), whole percent. */
      percentUsed: granted > 0n && used > 0n ? Number((used * 100n) / granted) : 0,
    };
  }

  /** What ListBanners serves beside the banners: the ledger's state and the prompts it shows. */
  async function bannerState(accountId: string) {
    const [state, { rules }] = await Promise.all([accountState(accountId), planOf(accountId)]);
    return { ...state, prompts: promptsShown(rules, state.percentUsed) };
  }

  const consumer = new LedgerConsumer(ledger, store, scope, async (event) => {
    let decisions: ReturnType<typeof decide> = { banners: [], deliveries: [] };
    if (event.facts) {
      const { rules, recipients } = await audience(event.facts.accountId);
      decisions = decide(event.facts, rules, recipients);
      // Run-out projection: checked when usage crosses a threshold; once per cycle.
      if (event.facts.kind === "threshold_crossed") {
        const state = await accountState(event.facts.accountId);
        if (state.runOutAt) {
          const runOut = runOutWarning(event.facts.accountId, event.facts.cycle, state.runOutAt, state.cycleEnd, recipients);
          decisions = { banners: [...decisions.banners, ...runOut.banners], deliveries: [...decisions.deliveries, ...runOut.deliveries] };
        }
      }
    }
    trace.getActiveSpan()?.setAttributes({
      "tollgate.rules": [...new Set([...decisions.banners, ...decisions.deliveries].map((d) => d.rule))],
      "tollgate.channels": [...new Set(decisions.deliveries.map((d) => d.channel))],
    });
    await store.recordEvent("notifications", event.sequence, decisions, { traceId: currentTraceId(), traceparent: currentTraceparent() });
    if (decisions.deliveries.length > 0) worker.wake();
  });

  const server = await startGrpcServer({
    services: [
      {
        name: "tollgate.notifications.v1.NotificationsService",
        definition: notificationsV1.NotificationsServiceService,
        implementation: notificationsHandlers(store, idempotency, worker, bannerState, { scope }, new OutboundAddressPolicy(options.webhookAllowedNetworks ?? []), async (accountId) => {
          await upstream(call(entitlements, entitlements.getAccount, { accountId }));
        }),
      },
    ],
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    meter: telemetry.meter,
    auth: options.auth,
    audit,
    ...(options.reflection === undefined ? {} : { reflection: options.reflection }),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  telemetry.setReadiness(server.serving);
  await consumer.start();
  worker.start();
  const deliveredRetentionMs = options.deliveredRetentionMs ?? 30 * 86_400_000;
  const keyRetentionMs = retentionMs(options.idempotencyRetentionMs);
  const pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000;
  // One round at a time: delivered rows, then idempotency keys (1000 a statement, as the ledger prunes; a backlog goes
  // in the same round, at most 100 statements).
  const pruner = every(
    pruneIntervalMs,
    async () => {
      await scope(() => store.pruneDelivered(deliveredRetentionMs, 1_000)).catch((error: unknown) => log().error({ err: error }, "pruning delivered notifications failed"));
      await scope(async () => {
        for (let round = 0; round < 100; round++) if ((await idempotency.prune(keyRetentionMs, 1_000)) < 1_000) return;
      });
    },
    (error) => log().error({ err: error }, "pruning idempotency keys failed"),
  );
  return {
    address: server.address,
    server,
    metrics: { port: telemetry.port, url: telemetry.url },
    stop: () =>
      stopInOrder("notifications", {
        // At once: each waits for what it is doing (a pruning round, the event being handled, the deliveries being sent).
        "background work": together({ pruner: () => pruner.stop(), "ledger event consumer": () => consumer.stop(), "delivery worker": () => worker.stop() }),
        "gRPC server": () => server.drain(),
        clients: () => {
          ledger.close();
          entitlements.close();
        },
        metrics: () => telemetry.shutdown(),
        database: () => orm.close(),
        "audit log": () => audit.close(),
      }),
  };
}
