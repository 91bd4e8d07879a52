import { call, upstream } from "@tollgate/grpc-kit";
import { NotFoundError } from "@tollgate/errors";
import { pricingV1 } from "@tollgate/proto";
import { rateTableFromProto, versionInEffect, type RateTable } from "@tollgate/rating";
import { inSpan } from "@tollgate/telemetry";
import { StreamFollower } from "./stream-follower.js";

/**
 * Rate tables in memory. A table is fetched once on first use (the only call
 * to pricing on a request path); after that a WatchRateTables stream keeps
 * every table fresh, so steady-state requests make no cross-service call.
 */
export class RateCache {
  private readonly versions = new Map<string, Map<bigint, RateTable>>();
  private lastVersion = 0n;
  private readonly follower: StreamFollower<pricingV1.WatchRateTablesResponse>;

  constructor(private readonly client: pricingV1.PricingServiceClient, private readonly serviceToken?: string) {
    this.follower = new StreamFollower(
      () => this.client.watchRateTables({ afterVersion: this.lastVersion.toString() }),
      (message) => message.table && this.add(rateTableFromProto(message.table)),
      (line) => console.warn(`[ledger] rate feed: ${line}`),
    );
  }

  private add(table: RateTable): void {
    let versions = this.versions.get(table.tableId);
    if (!versions) this.versions.set(table.tableId, (versions = new Map()));
    versions.set(table.version, table);
    if (table.version > this.lastVersion) this.lastVersion = table.version;
  }

  async inEffect(tableId: string, at: Date = new Date()): Promise<RateTable> {
    if (!this.versions.has(tableId)) await this.fill(tableId);
    const table = versionInEffect([...(this.versions.get(tableId)?.values() ?? [])], at);
    if (!table) throw new NotFoundError("rate table", tableId);
    return table;
  }

  private fill(tableId: string): Promise<void> {
    return inSpan("tollgate.ledger", "ledger.rate_cache.fill", async (span) => {
      span.setAttribute("tollgate.rate_table_id", tableId);
      let pageToken = "";
      do {
        const page = await upstream(call(this.client, this.client.listRateTableVersions, { tableId, page: { pageSize: 500, pageToken } }, this.token()));
        page.tables.forEach((table) => this.add(rateTableFromProto(table)));
        pageToken = page.nextPageToken;
      } while (pageToken);
      if (!this.versions.has(tableId)) this.versions.set(tableId, new Map());
      this.follower.start();
    });
  }

  private token() {
    return this.serviceToken ? { serviceToken: this.serviceToken } : {};
  }

  stop(): void {
    this.follower.stop();
  }
}
