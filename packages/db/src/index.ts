import { MikroORM, type EntityManager } from "@mikro-orm/postgresql";
import { Migration, Migrator } from "@mikro-orm/migrations";
import type { EntitySchema } from "@mikro-orm/core";
import { MigrationChecksums } from "./migration-checksums.js";

export { Migration, MikroORM, type EntityManager };

/** How long a session may sit idle inside a transaction before PostgreSQL ends it. */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

export interface DatabaseOptions {
  url: string;
  /** The service's own Postgres schema; no service reads another's. */
  schema: string;
  entities: EntitySchema<any, any>[];
  migrations: (new (...args: any[]) => Migration)[];
  poolMax?: number;
}

/**
 * Opens a MikroORM instance on the service's schema and brings the schema up
 * to date with the service's committed migrations (tracked in
 * `<schema>.mikro_orm_migrations`, their checksums in
 * `<schema>.migration_checksums`). Refuses to open, naming the migration, when
 * an applied migration's SQL differs from the code's.
 */
export async function openDatabase(options: DatabaseOptions): Promise<MikroORM> {
  const orm = await MikroORM.init({
    clientUrl: options.url,
    schema: options.schema,
    entities: options.entities,
    extensions: [Migrator],
    migrations: {
      migrationsList: options.migrations,
      schema: options.schema,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    pool: { min: 0, max: options.poolMax ?? 8 },
    // A session left idle inside a transaction (a paused or cut-off replica, a console left open mid-transaction)
    // is ended by the server after this long, and the row locks it holds with it: otherwise every write that waits
    // on them (a replica's whole group-commit lane) waits for good. Our transactions are never idle that long.
    driverOptions: { idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS },
    allowGlobalContext: false,
    debug: false,
  });
  try {
    await orm.em.getConnection().execute(`create schema if not exists "${options.schema}"`);
    const checksums = new MigrationChecksums(orm, options.schema, options.migrations);
    await checksums.verify();
    await orm.migrator.up();
    await checksums.record();
  } catch (error) {
    await orm.close();
    throw error;
  }
  return orm;
}

export { sql } from "./sql.js";
export { createIndexSql } from "./index-sql.js";
export { HEARTBEAT_MS, LogFollower, SILENT_STREAM_MS, SilenceWatchdog, takeLogTurn } from "./follow.js";
export { NotificationListener, type ListenerOptions } from "./listen.js";

/** The `pg` pool behind the ORM (for pool-use metrics). */
export async function connectionPool(orm: MikroORM) {
  return orm.em.getConnection().getNativeClient();
}
export { CallAuditLog, type CallAuditFilter, type CallRecord, type CallAuditRow } from "./call-audit.js";
export {
  checkKey,
  recall,
  requestHash,
  retentionMs,
  DEFAULT_RETENTION_MS,
  MAX_KEY_LENGTH,
  MIN_RETENTION_MS,
  type IdempotencyRecord,
  type KeyedCall,
} from "./idempotency.js";
export { PostgresIdempotencyStore, schedulePruning, type IdempotencyStore, type IdempotencyTable } from "./idempotency-store.js";
export { every, type PeriodicJob } from "./periodic.js";
export { answerOnce, type AnswerOnce } from "./answer-once.js";
export { CREATED_MICROS, newestFirst, newestFirstEntities, whereAll, withCursor, type Condition, type NewestFirstCursor, type Paged } from "./newest-first.js";
