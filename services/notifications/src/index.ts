import { openDatabase } from "@tollgate/db";
import { createClient, mikroOrmScope, startGrpcServer, type RunningServer } from "@tollgate/grpc-kit";
import { ledgerV1, notificationsV1 } from "@tollgate/proto";
import { currentTraceId } from "@tollgate/telemetry";
import { BannerSchema, ConsumerOffsetSchema } from "./data/banner.entity.js";
import { LedgerConsumer } from "./data/ledger-consumer.js";
import { migrations } from "./data/migrations/index.js";
import { PostgresNotificationsStore } from "./data/notifications-store.js";
import { bannerFor } from "./domain/rules.js";
import { notificationsHandlers } from "./transport/notifications-handlers.js";

export interface NotificationsServiceOptions {
  databaseUrl: string;
  port: number;
  host?: string;
  poolMax?: number;
  ledgerAddress: string;
  serviceToken?: string;
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
    entities: [BannerSchema, ConsumerOffsetSchema],
    migrations,
    ...(options.poolMax ? { poolMax: options.poolMax } : {}),
  });
  const store = new PostgresNotificationsStore(() => orm.em.getContext());
  const scope = mikroOrmScope(orm.em);
  const ledger = createClient(ledgerV1.LedgerServiceClient, options.ledgerAddress);
  const consumer = new LedgerConsumer(ledger, store, scope, async (event) => {
    const banner = event.crossing ? bannerFor(event.crossing) : undefined;
    await store.recordEvent("notifications", event.sequence, banner, currentTraceId());
  });
  const server = await startGrpcServer({
    services: [
      {
        name: "tollgate.notifications.v1.NotificationsService",
        definition: notificationsV1.NotificationsServiceService,
        implementation: notificationsHandlers(store, { scope, ...(options.serviceToken ? { serviceToken: options.serviceToken } : {}) }),
      },
    ],
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
  });
  await consumer.start();
  return {
    address: server.address,
    server,
    async stop() {
      consumer.stop();
      await server.drain();
      ledger.close();
      await orm.close();
    },
  };
}
