import { connectionPool, openDatabase, type MikroORM } from "@tollgate/db";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { describeLedgerStateStore } from "../domain/store-contract.js";
import { ledgerEntities } from "./entities.js";
import { migrations } from "./migrations/index.js";
import { PostgresLedgerStateStore } from "./state-store.js";

describeLedgerStateStore("postgres", async () => {
  const db: TestDatabase = await createTestDatabase();
  const orm: MikroORM = await openDatabase({ url: db.url, schema: "ledger", entities: ledgerEntities, migrations, poolMax: 6 });
  const retried: string[] = [];
  const store = new PostgresLedgerStateStore(await connectionPool(orm), { onRetry: (code) => retried.push(code) });
  return {
    store,
    retried: () => retried,
    async close() {
      await orm.close();
      await db.drop();
    },
  };
});
