import { sql, takeLogTurn, type EntityManager } from "@tollgate/db";
import { RateTableVersionSchema, type RateTableVersion } from "./rate-table-version.entity.js";

export interface NewRateTableVersion {
  tableId: string;
  effectiveFrom: Date;
  publishedBy: string;
  publishedOnBehalfOf: string | null;
  reason: string;
  rates: unknown[];
}

/** Storage of rate table versions (append-only). */
export interface RateTableStore {
  /**
   * Appends the table's next version (numbered per table, from 1). `check` sees the table's versions once the
   * publishers of the table took turns (none commits between it and the append); its throw appends nothing.
   */
  append(version: NewRateTableVersion, check?: (versions: RateTableVersion[]) => void): Promise<RateTableVersion>;
  versions(tableId: string): Promise<RateTableVersion[]>;
  get(tableId: string, version: bigint): Promise<RateTableVersion | null>;
  bySequence(sequence: bigint): Promise<RateTableVersion | null>;
  /** Versions of every table published after a sequence, in publication order. */
  after(sequence: bigint, limit: number): Promise<RateTableVersion[]>;
  list(options: { tableId?: string; afterSequence: bigint; limit: number }): Promise<RateTableVersion[]>;
}

export class PostgresRateTableStore implements RateTableStore {
  constructor(private readonly em: () => EntityManager) {}

  append(version: NewRateTableVersion, check?: (versions: RateTableVersion[]) => void): Promise<RateTableVersion> {
    return this.em().transactional(async (tx) => {
      // Publishers of one table take turns, so each gets the next number. (The turn below serialises every table's
      // publications too; this lock stays while replicas of the release before, which take only this one, may run.)
      await sql(tx, `select pg_advisory_xact_lock(hashtext('pricing.rate_table:' || ?))`, [version.tableId]);
      // Sequences are WatchRateTables' cursor: publications of every table commit in the order they take them.
      await takeLogTurn(tx, "pricing.rate_table_versions");
      check?.(await tx.find(RateTableVersionSchema, { tableId: version.tableId }, { orderBy: { version: "asc" }, disableIdentityMap: true }));
      const [last] = await sql<{ version: number | null }>(tx, `select max(version) as version from pricing.rate_table_versions where table_id = ?`, [version.tableId]);
      const row = tx.create(RateTableVersionSchema, { ...version, version: (last?.version ?? 0) + 1, publishedAt: new Date() });
      await tx.flush();
      return row;
    });
  }

  versions(tableId: string): Promise<RateTableVersion[]> {
    return this.em().find(RateTableVersionSchema, { tableId }, { orderBy: { version: "asc" } });
  }

  get(tableId: string, version: bigint): Promise<RateTableVersion | null> {
    return this.em().findOne(RateTableVersionSchema, { tableId, version: Number(version) });
  }

  bySequence(sequence: bigint): Promise<RateTableVersion | null> {
    return this.em().findOne(RateTableVersionSchema, { sequence: sequence.toString() });
  }

  after(sequence: bigint, limit: number): Promise<RateTableVersion[]> {
    // A WatchRateTables stream reads in one request scope for as long as it is open: nothing it reads is kept there.
    return this.em().find(RateTableVersionSchema, { sequence: { $gt: sequence.toString() } }, { orderBy: { sequence: "asc" }, limit, disableIdentityMap: true });
  }

  list(options: { tableId?: string; afterSequence: bigint; limit: number }): Promise<RateTableVersion[]> {
    return this.em().find(
      RateTableVersionSchema,
      { ...(options.tableId ? { tableId: options.tableId } : {}), sequence: { $gt: options.afterSequence.toString() } },
      { orderBy: { sequence: "asc" }, limit: options.limit },
    );
  }
}
