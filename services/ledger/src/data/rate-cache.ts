import { status } from "@grpc/grpc-js";
import { call, upstream } from "@tollgate/grpc-kit";
import { NotFoundError } from "@tollgate/errors";
import { pricingV1 } from "@tollgate/proto";
import { rateTableFromProto, versionForUsage, type RateTable } from "@tollgate/rating";
import { inSpan, log } from "@tollgate/telemetry";
import { InFlight } from "./in-flight.js";
import { StreamFollower, VersionLag } from "./stream-follower.js";

/**
 * Rate tables in memory. A table is fetched once on first use (the only call
 * to pricing on a request path); after that a WatchRateTables stream keeps
 * every table fresh, so steady-state requests make no cross-service call.
 * The stream starts from the first publication and only it moves its resume
 * point: a fill lists one table as it is when read, and the stream brings
 * every version published after that, of every table.
 */
export class RateCache {
  private readonly versions = new Map<string, Map<bigint, RateTable>>();
  /** Tables listed in full by a fill; the stream's versions of a table not listed yet may be only its latest. */
  private readonly filled = new Set<string>();
  /** Fills in flight, so concurrent first uses of one table make one listing. */
  private readonly filling = new InFlight<string, void>();
  /** Every version seen, by its publication sequence (what holds and entries record). */
  private readonly bySequence = new Map<bigint, RateTable>();
  /** The last publication sequence the stream brought: where it resumes. */
  private feedSequence = 0n;
  private readonly follower: StreamFollower<pricingV1.WatchRateTablesResponse>;
  /** The feed's lag: publication sequences not applied here. */
  readonly lag = new VersionLag("rate_tables", () => this.feedSequence);

  constructor(private readonly client: pricingV1.PricingServiceClient) {
    this.follower = new StreamFollower(
      () => this.client.watchRateTables({ afterVersion: "0", afterSequence: this.feedSequence.toString() }),
      (message) => {
        if (message.table) {
          const table = rateTableFromProto(message.table);
          this.add(table);
          if (table.sequence !== undefined && table.sequence > this.feedSequence) this.feedSequence = table.sequence;
        }
        this.lag.heardOf(message.latestSequence);
      },
      (line) => log().warn(`rate feed: ${line}`),
    );
  }

  private add(table: RateTable): void {
    let versions = this.versions.get(table.tableId);
    if (!versions) this.versions.set(table.tableId, (versions = new Map()));
    versions.set(table.version, table);
    this.bySequence.set(table.sequence ?? 0n, table);
  }

  /** The versions published with these sequences (a hold's or entry's rate table); unknown ones are left out. */
  async published(sequences: Iterable<bigint>): Promise<Map<bigint, RateTable>> {
    const wanted = [...new Set(sequences)].filter((sequence) => sequence > 0n);
    const missing = wanted.filter((sequence) => !this.bySequence.has(sequence));
    await Promise.all(
      missing.map(async (sequence) => {
        try {
          const { table } = await call(this.client, this.client.getRateTable, { tableId: "", version: "0", at: undefined, sequence: sequence.toString() });
          if (table) this.bySequence.set(sequence, rateTableFromProto(table));
        } catch (error) {
          if ((error as { code?: number }).code !== status.NOT_FOUND) throw error;
        }
      }),
    );
    return new Map(wanted.flatMap((sequence) => (this.bySequence.has(sequence) ? [[sequence, this.bySequence.get(sequence)!] as const] : [])));
  }

  async inEffect(tableId: string, at: Date, now: Date): Promise<RateTable> {
    if (!this.filled.has(tableId)) await this.filling.run(tableId, () => this.fill(tableId));
    const table = versionForUsage([...(this.versions.get(tableId)?.values() ?? [])], at, now);
    if (!table) throw new NotFoundError("rate table", tableId);
    return table;
  }

  private fill(tableId: string): Promise<void> {
    return inSpan("tollgate.ledger", "ledger.rate_cache.fill", async (span) => {
      span.setAttribute("tollgate.rate_table_id", tableId);
      this.follower.start();
      let pageToken = "";
      do {
        const page = await upstream(call(this.client, this.client.listRateTableVersions, { tableId, page: { pageSize: 500, pageToken } }));
        page.tables.forEach((table) => this.add(rateTableFromProto(table)));
        pageToken = page.nextPageToken;
      } while (pageToken);
      this.filled.add(tableId);
    });
  }

  stop(): void {
    this.follower.stop();
  }
}
