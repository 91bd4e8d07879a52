import { actorOf, encodedSize, page, pageOffset, pageScope, pageSize, scopedToken, serverStream, tokenPosition, unary, type HandlerOptions } from "@tollgate/grpc-kit";
import { InvalidArgumentError } from "@tollgate/errors";
import { pricingV1 } from "@tollgate/proto";
import { int64, lineItemToProto, rateFromProto, rateToProto, usageFromProto } from "@tollgate/rating";
import type { RateTableVersion } from "../data/rate-table-version.entity.js";
import { toRateTable, type RateTables } from "../domain/rate-tables.js";
import { answerOnce, type IdempotencyStore, type LogFollower } from "@tollgate/db";
import type { RateTableStore } from "../data/rate-table-store.js";

function tableToProto(row: RateTableVersion): pricingV1.RateTable {
  const table = toRateTable(row);
  return {
    tableId: row.tableId,
    version: String(row.version),
    sequence: row.sequence,
    effectiveFrom: row.effectiveFrom,
    publishedAt: row.publishedAt,
    publishedBy: row.publishedBy,
    publishedOnBehalfOf: row.publishedOnBehalfOf ?? "",
    rates: table.rates.map(rateToProto),
  };
}


export function pricingHandlers(
  rateTables: RateTables,
  store: RateTableStore,
  idempotency: IdempotencyStore,
  feed: LogFollower<RateTableVersion>,
  options: HandlerOptions,
): pricingV1.PricingServiceServer {
  return {
    publishRateTable: unary(async (request: pricingV1.PublishRateTableRequest, context) => {
      const once = { operation: "PublishRateTable", scope: `table:${request.tableId}`, request, requestType: pricingV1.PublishRateTableRequest, responseType: pricingV1.PublishRateTableResponse };
      const { response, replayed } = await answerOnce(idempotency, once, async () => {
        const { row } = await rateTables.publish({
          tableId: request.tableId,
          ...(request.effectiveFrom ? { effectiveFrom: request.effectiveFrom } : {}),
          rates: request.rates.map((rate, index) => rateFromProto(rate, `rates[${index}]`)),
          ...actorOf(context, request.actor),
          reason: request.reason,
        });
        return { table: tableToProto(row) };
      });
      if (!replayed) feed.notify();
      return response;
    }, options),

    getRateTable: unary(async (request: pricingV1.GetRateTableRequest) => {
      const sequence = int64(request.sequence, "sequence");
      const version = int64(request.version, "version");
      if (sequence === 0n && !request.tableId) throw new InvalidArgumentError("table_id", "is required (or a sequence, which names its table)");
      const row = sequence > 0n ? await rateTables.published(sequence) : (await rateTables.resolve(request.tableId, version, request.at)).row;
      // A sequence names one version of one table: a table or version sent beside it that says otherwise is a mistake, not ignored.
      if (sequence > 0n && request.tableId && request.tableId !== row.tableId) {
        throw new InvalidArgumentError("table_id", `names ${request.tableId}, but sequence ${sequence} is a version of ${row.tableId}`);
      }
      if (sequence > 0n && version > 0n && version !== BigInt(row.version)) {
        throw new InvalidArgumentError("version", `is ${version}, but sequence ${sequence} is version ${row.version} of ${row.tableId}`);
      }
      return { table: tableToProto(row) };
    }, options),

    listRateTableVersions: unary(async (request: pricingV1.ListRateTableVersionsRequest) => {
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListRateTableVersions", request);
      const after = BigInt(pageOffset(tokenPosition(scope, request.page?.pageToken)));
      const rows = await store.list({ ...(request.tableId ? { tableId: request.tableId } : {}), afterSequence: after, limit: limit + 1 });
      const { items, nextPageToken } = page(rows.map(tableToProto), limit, (table) => table.sequence, encodedSize(pricingV1.RateTable));
      return { tables: items, nextPageToken: scopedToken(scope, nextPageToken) };
    }, options),

    diffRateTables: unary(async (request: pricingV1.DiffRateTablesRequest) => {
      const changes = await rateTables.diff(request.tableId, int64(request.fromVersion, "from_version"), int64(request.toVersion, "to_version"));
      return {
        changes: changes.map((c) => ({
          key: c.key,
          before: c.before ? rateToProto(c.before) : undefined,
          after: c.after ? rateToProto(c.after) : undefined,
        })),
      };
    }, options),

    quote: unary(async (request: pricingV1.QuoteRequest) => {
      if (request.usage.length === 0) throw new InvalidArgumentError("usage", "at least one usage is required");
      const usages = request.usage.map((usage, index) => usageFromProto(usage, `usage[${index}]`));
      const { lines, version } = await rateTables.quote(request.tableId || "default", usages, int64(request.version, "version"), request.at);
      return { lineItems: lines.map(lineItemToProto), rateTableVersion: version.toString() };
    }, options),

    watchRateTables: serverStream(async function* (request: pricingV1.WatchRateTablesRequest, context) {
      // Before versions were numbered per table, after_version was this sequence.
      const after = int64(request.afterSequence, "after_sequence") || int64(request.afterVersion, "after_version");
      for await (const { row, head } of feed.follow(after, context.signal)) {
        yield { ...(row ? { table: tableToProto(row) } : {}), latestSequence: (head ?? 0n).toString() };
      }
    }, options),
  };
}
