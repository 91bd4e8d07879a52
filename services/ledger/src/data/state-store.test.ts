import { connectionPool, NotificationListener, openDatabase, type MikroORM } from "@tollgate/db";
import type { RoomExhausted } from "../domain/rules/room-exhausted.js";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { describeLedgerStateStore } from "../domain/store-contract.js";
import { ledgerEntities } from "./entities.js";
import { migrations } from "./migrations/index.js";
import { ROOM_EXHAUSTED_CHANNEL } from "./migrations/room-exhausted.sql.js";
import { PostgresLedgerStateStore } from "./state-store.js";

describeLedgerStateStore("postgres", async () => {
  const db: TestDatabase = await createTestDatabase();
  const orm: MikroORM = await openDatabase({ url: db.url, schema: "ledger", entities: ledgerEntities, migrations, poolMax: 6 });
  const retried: string[] = [];
  const store = new PostgresLedgerStateStore(await connectionPool(orm), { onRetry: (code) => retried.push(code) });
  // The signals as a Meter stream's replica hears them: LISTEN on their channel.
  const signals: RoomExhausted[] = [];
  const listener = new NotificationListener({
    url: db.url,
    channels: [ROOM_EXHAUSTED_CHANNEL],
    onNotification: (_channel, payload) => {
      const signal = JSON.parse(payload) as { account_id: string; unit: string; room_micros: string };
      signals.push({ accountId: signal.account_id, unit: signal.unit, roomMicros: BigInt(signal.room_micros) });
    },
  });
  await listener.start();
  return {
    store,
    retried: () => retried,
    roomSignals: () => signals,
    async close() {
      await listener.stop();
      await orm.close();
      await db.drop();
    },
  };
});
