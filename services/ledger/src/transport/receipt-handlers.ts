import type { EntityManager } from "@tollgate/db";
import { InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { page, pageOffset, pageScope, pageSize, requireKnownWhenEmpty, scopedToken, tokenPosition, unary, type HandlerOptions } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { bucketToProto, int64, type Bucket } from "@tollgate/rating";
import type { LedgerAccount } from "../data/entities.js";
import { receiptRecord, recordedTrace, type ReceiptRecord } from "../data/receipts.js";
import { listTools, setTool, usageBreakdown, type ToolRow, type ToolStatus } from "../data/usage-views.js";
import { receiptLines } from "../domain/receipt.js";
import { usageDimension } from "../domain/usage.js";
import { entryToProto, eventToProto, holdToProto, unitOf, type PublishedRateTables } from "./codec.js";

const L = ledgerV1;

export interface ReceiptDependencies {
  em: () => EntityManager;
  /** The ledger's record of an account (its current cycle), or null before its first request. */
  account: (accountId: string) => Promise<LedgerAccount | null>;
  /** Throws NOT_FOUND for an account entitlements does not know. */
  requireAccount: (accountId: string) => Promise<unknown>;
  publishedRateTables: (sequences: Iterable<bigint>) => Promise<PublishedRateTables>;
  /** The reverse entries that returned these charges: charge entry id → reversing entry id. */
  reversals: (accountId: string, entryIds: string[]) => Promise<Map<string, string>>;
}

const TOOL_STATUSES: readonly ToolStatus[] = ["development", "deployed", "undeployed", "deleted"];

/** A timestamp as raw SQL answers it (a Date or an ISO string). */
const dateOf = (value: Date | string | null) => (value === null ? undefined : new Date(value));

function toolToProto(row: ToolRow): ledgerV1.Tool {
  return {
    accountId: row.account_id,
    tool: row.tool,
    owner: row.owner,
    status: L.toolStatusFromJSON(`TOOL_STATUS_${row.status.toUpperCase()}`),
    firstDeployedAt: dateOf(row.first_deployed_at),
    updatedAt: dateOf(row.updated_at),
    runs: row.runs,
    usedMicros: row.used_micros,
    unit: row.unit ? unitOf(row.unit) : 0,
    lastActiveAt: dateOf(row.last_active_at),
  };
}

function receiptToProto(record: ReceiptRecord, rates: PublishedRateTables, reversedBy: Map<string, string>): ledgerV1.Receipt {
  const charged = record.charges.reduce((sum, c) => sum + BigInt(c.amountMicros), 0n);
  const uncollected = record.charges.reduce((sum, c) => sum + BigInt(c.uncollectedMicros), 0n);
  const priced = record.charges[0] ?? record.hold!;
  const table = rates.get(BigInt(priced.rateTableSequence));
  const attribution = priced.attribution;
  const lines = receiptLines(
    table,
    { model: attribution.model, tool: attribution.tool, block: attribution.block, work: record.work?.usage as Record<string, unknown> | undefined, bucket: record.bucket, unit: record.unit },
    record.charges.length ? charged + uncollected : BigInt(record.hold!.amountMicros),
  );
  const drawn = new Map<string, bigint>();
  for (const line of record.lines) if (line.poolId) drawn.set(line.poolId, (drawn.get(line.poolId) ?? 0n) - BigInt(line.amountMicros));
  const last = record.charges.at(-1);
  return {
    accountId: record.accountId,
    unit: unitOf(record.unit),
    bucket: record.bucket ? bucketToProto(record.bucket as Bucket) : 0,
    hold: record.hold ? holdToProto(record.hold, rates) : undefined,
    charges: record.charges.map((c) => entryToProto(c, record.lines.filter((l) => l.entryId === c.entryId), rates, reversedBy)),
    askedMicros: (record.hold ? BigInt(record.hold.amountMicros) : charged + uncollected).toString(),
    chargedMicros: charged.toString(),
    uncollectedMicros: uncollected.toString(),
    rateTableId: table?.tableId ?? "",
    rateTableVersion: (table?.version ?? 0n).toString(),
    lines: lines.map((l) => ({
      bucket: bucketToProto(l.bucket), unit: unitOf(l.unit), description: l.description, rateMicros: l.rateMicros.toString(), ratePer: l.ratePer.toString(),
      quantity: l.quantity.toString(), quantityKnown: l.quantityKnown, amountMicros: l.amountMicros.toString(),
    })),
    pools: [...drawn].map(([poolId, micros]) => {
      const pool = record.pools.find((p) => p.poolId === poolId);
      return { poolId, kind: pool ? entitlementsV1.poolKindFromJSON(`POOL_KIND_${pool.kind.toUpperCase()}`) : 0, drawnMicros: micros.toString() };
    }),
    balanceBeforeMicros: record.balanceBeforeMicros.toString(),
    balanceAfterMicros: record.balanceAfterMicros.toString(),
    idempotencyKey: record.idempotency?.key ?? "",
    operation: record.idempotency?.operation ?? "",
    actor: last?.actor ?? "",
    onBehalfOf: last?.onBehalfOf ?? "",
    traceId: recordedTrace(record.charges[0]?.traceId ?? ""),
    events: record.events.map(eventToProto),
  };
}

/** Read RPCs behind the support console's cost receipt and usage views, and the account's tool catalogue. */
export function receiptHandlers(deps: ReceiptDependencies, options: HandlerOptions): Partial<ledgerV1.LedgerServiceServer> {
  return {
    getReceipt: unary(async (request: ledgerV1.GetReceiptRequest) => {
      const entryId = int64(request.entryId, "entry_id");
      if ((entryId > 0n) === Boolean(request.holdId)) throw new InvalidArgumentError(entryId > 0n ? "hold_id" : "entry_id", "give either entry_id or hold_id");
      const record = await receiptRecord(deps.em(), entryId > 0n ? { entryId } : { holdId: request.holdId });
      if (record === undefined) throw entryId > 0n ? new NotFoundError("entry", entryId.toString()) : new NotFoundError("hold", request.holdId);
      if (record === "notCharge") throw new InvalidArgumentError("entry_id", `entry ${entryId} is not a charge or a reversal; receipts are for charges, reversals and holds`);
      const sequences = [...record.charges.map((c) => BigInt(c.rateTableSequence)), ...(record.hold ? [BigInt(record.hold.rateTableSequence)] : [])];
      const reversedBy = await deps.reversals(record.accountId, record.charges.map((c) => c.entryId));
      return { receipt: receiptToProto(record, await deps.publishedRateTables(sequences), reversedBy) };
    }, options),

    getUsageBreakdown: unary(async (request: ledgerV1.GetUsageBreakdownRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      const dimension = usageDimension(request.dimension, "dimension");
      const splitBy = usageDimension(request.splitBy, "split_by");
      const since = request.since ?? (await deps.account(request.accountId))?.cycleStart ?? new Date(0);
      const rows = await usageBreakdown(deps.em(), request.accountId, dimension, splitBy, since);
      await requireKnownWhenEmpty(deps.requireAccount, request.accountId, rows);
      return {
        rows: rows.map((row) => ({ key: row.key, split: row.split, unit: unitOf(row.unit), amountMicros: row.amount, requests: row.requests })),
        since,
      };
    }, options),

    setTool: unary(async (request: ledgerV1.SetToolRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      if (!request.tool) throw new InvalidArgumentError("tool", "is required");
      const status = L.toolStatusToJSON(request.status).slice("TOOL_STATUS_".length).toLowerCase() as ToolStatus;
      if (!TOOL_STATUSES.includes(status)) throw new InvalidArgumentError("status", `must be one of ${TOOL_STATUSES.join(", ")}`);
      await deps.requireAccount(request.accountId);
      return { tool: toolToProto(await setTool(deps.em(), request.accountId, request.tool, request.owner, status)) };
    }, options),

    listTools: unary(async (request: ledgerV1.ListToolsRequest) => {
      if (!request.accountId) throw new InvalidArgumentError("account_id", "is required");
      const limit = pageSize(request.page?.pageSize);
      const scope = pageScope("ListTools", request);
      const offset = pageOffset(tokenPosition(scope, request.page?.pageToken));
      const { rows, totalTools, totalRuns } = await listTools(deps.em(), request.accountId, offset, limit + 1);
      await requireKnownWhenEmpty(deps.requireAccount, request.accountId, rows);
      const { items, nextPageToken } = page(rows.map(toolToProto), limit, (_, count) => String(offset + count));
      return { tools: items, nextPageToken: scopedToken(scope, nextPageToken), totalTools: totalTools.toString(), totalRuns: totalRuns.toString() };
    }, options),
  };
}
