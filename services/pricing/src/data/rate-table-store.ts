import type { EntityManager } from "@tollgate/db";
import { RateTableVersionSchema, type RateTableVersion } from "./rate-table-version.entity.js";

export interface NewRateTableVersion {
  tableId: string;
  effectiveFrom: Date;
  publishedBy: string;
  reason: string;
  rates: unknown[];
}

/** Storage of rate table versions (append-only). */
export interface RateTableStore {
  append(version: NewRateTableVersion): Promise<RateTableVersion>;
  versions(tableId: string): Promise<RateTableVersion[]>;
  get(version: bigint): Promise<RateTableVersion | null>;
  after(version: bigint, limit: number): Promise<RateTableVersion[]>;
  list(options: { tableId?: string; afterVersion: bigint; limit: number }): Promise<RateTableVersion[]>;
}

export class PostgresRateTableStore implements RateTableStore {
  constructor(private readonly em: () => EntityManager) {}

  async append(version: NewRateTableVersion): Promise<RateTableVersion> {
    const em = this.em();
    const row = em.create(RateTableVersionSchema, { ...version, publishedAt: new Date() });
    await em.flush();
    return row;
  }

  versions(tableId: string): Promise<RateTableVersion[]> {
    return this.em().find(RateTableVersionSchema, { tableId }, { orderBy: { version: "asc" } });
  }

  get(version: bigint): Promise<RateTableVersion | null> {
    return this.em().findOne(RateTableVersionSchema, { version: version.toString() });
  }

  after(version: bigint, limit: number): Promise<RateTableVersion[]> {
    return this.em().find(RateTableVersionSchema, { version: { $gt: version.toString() } }, { orderBy: { version: "asc" }, limit });
  }

  list(options: { tableId?: string; afterVersion: bigint; limit: number }): Promise<RateTableVersion[]> {
    return this.em().find(
      RateTableVersionSchema,
      { ...(options.tableId ? { tableId: options.tableId } : {}), version: { $gt: options.afterVersion.toString() } },
      { orderBy: { version: "asc" }, limit: options.limit },
    );
  }
}
