import type { FastifyInstance } from "fastify";
import { InvalidArgumentError } from "@tollgate/errors";
import { call } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { page, PAGE, takes, unitOf, type Clients } from "./routes.js";
import { entryView, holdView, notificationView, unitName } from "./views.js";

type Query = Record<string, string | undefined>;

/** A journal entry's id as the console may name it. */
export const ENTRY_ID = /^[1-9][0-9]{0,17}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const lower = (json: string, prefix: string) => json.slice(prefix.length).toLowerCase();
const snake = (text: string) => text.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** An event's fields as the console shows them: units and pool kinds by name ("credits", not "UNIT_CREDITS"). */
const readable = (fields: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === "string" && /^(UNIT|POOL_KIND)_[A-Z_]+$/.test(v) ? v.replace(/^(UNIT|POOL_KIND)_/, "").toLowerCase() : v]));

function eventView(e: ledgerV1.LedgerEvent) {
  const kind = e.kind;
  return {
    sequence: e.sequence,
    kind: kind ? snake(kind.$case) : "unknown",
    occurred_at: e.occurredAt?.toISOString() ?? null,
    details: kind ? readable((ledgerV1.LedgerEvent.toJSON({ ...e, kind }) as Record<string, Record<string, unknown> | undefined>)[kind.$case] ?? {}) : {},
  };
}

export function receiptView(r: ledgerV1.Receipt) {
  return {
    account_id: r.accountId,
    unit: unitName(r.unit),
    bucket: r.bucket ? lower(commonV1.bucketToJSON(r.bucket), "BUCKET_") : "",
    hold: r.hold ? holdView(r.hold) : null,
    charges: r.charges.map(entryView),
    asked_micros: r.askedMicros,
    charged_micros: r.chargedMicros,
    uncollected_micros: r.uncollectedMicros,
    rate_table_id: r.rateTableId,
    rate_table_version: r.rateTableVersion,
    line_items: r.lines.map((l) => ({
      bucket: lower(commonV1.bucketToJSON(l.bucket), "BUCKET_"), unit: unitName(l.unit), description: l.description,
      rate_micros: l.rateMicros, rate_per: l.ratePer, quantity: l.quantityKnown ? l.quantity : null, amount_micros: l.amountMicros,
    })),
    pools: r.pools.map((p) => ({ pool_id: p.poolId, kind: p.kind ? lower(entitlementsV1.poolKindToJSON(p.kind), "POOL_KIND_") : "", drawn_micros: p.drawnMicros })),
    balance_before_micros: r.balanceBeforeMicros,
    balance_after_micros: r.balanceAfterMicros,
    idempotency_key: r.idempotencyKey,
    operation: r.operation,
    actor: r.actor,
    on_behalf_of: r.onBehalfOf,
    trace_id: r.traceId,
    events: r.events.map(eventView),
  };
}

function toolView(t: ledgerV1.Tool) {
  return {
    id: t.tool,
    owner: t.owner,
    status: lower(ledgerV1.toolStatusToJSON(t.status), "TOOL_STATUS_"),
    runs: t.runs,
    used_micros: t.usedMicros,
    unit: t.unit ? unitName(t.unit) : "",
    last_active_at: t.lastActiveAt?.toISOString() ?? null,
    first_deployed_at: t.firstDeployedAt?.toISOString() ?? null,
  };
}

/** The members breakdown's segments (seed 000's three buckets), in bar order. */
export const MEMBER_BUCKETS = ["ai", "compute", "platform"] as const;

/** The cost receipt, the members breakdown and the tool catalogue: each one ledger read (and the receipt's notifications from the notifications service). */
export function registerReceiptRoutes(app: FastifyInstance, clients: Clients): void {
  const { ledger, notifications } = clients;

  // A charge entry id or a hold id.
  app.get("/api/receipts/:id", async (request) => {
    const { id } = request.params as { id: string };
    const target = ENTRY_ID.test(id) ? { entryId: id, holdId: "" } : UUID.test(id) ? { entryId: "0", holdId: id } : undefined;
    if (!target) throw new InvalidArgumentError("id", "must be a charge's entry id or a hold id");
    const { receipt } = await call(ledger, ledger.getReceipt, target);
    const caused = receipt!.traceId
      ? (await call(notifications, notifications.listNotifications, { accountId: receipt!.accountId, traceId: receipt!.traceId, page: { pageSize: 100, pageToken: "" } })).notifications
      : [];
    return { id, ...receiptView(receipt!), notifications: caused.map(notificationView) };
  });

  // Per member (user_id) usage this cycle in the ai, compute and platform buckets, and the team's total: seed 000's admin breakdown.
  app.get("/api/accounts/:id/member-usage", takes("unit"), async (request) => {
    const { id } = request.params as { id: string };
    const unit = (request.query as Query).unit ?? "credits";
    const wanted = unitOf(unit);
    const { rows, since } = await call(ledger, ledger.getUsageBreakdown, { accountId: id, dimension: "user_id", splitBy: "bucket", since: undefined });
    const members = new Map<string, Record<string, bigint>>();
    const team: Record<string, bigint> = Object.fromEntries(MEMBER_BUCKETS.map((b) => [b, 0n]));
    for (const row of rows) {
      if (row.unit !== wanted || !(MEMBER_BUCKETS as readonly string[]).includes(row.split)) continue;
      const member = members.get(row.key) ?? Object.fromEntries(MEMBER_BUCKETS.map((b) => [b, 0n]));
      member[row.split] = member[row.split]! + BigInt(row.amountMicros);
      team[row.split] = team[row.split]! + BigInt(row.amountMicros);
      members.set(row.key, member);
    }
    const view = (amounts: Record<string, bigint>) => ({
      ...Object.fromEntries(MEMBER_BUCKETS.map((b) => [`${b}_micros`, amounts[b]!.toString()])),
      total_micros: MEMBER_BUCKETS.reduce((sum, b) => sum + amounts[b]!, 0n).toString(),
    });
    const data = [...members].map(([key, amounts]) => ({ id: key || "(none)", user_id: key, ...view(amounts) }));
    data.sort((a, b) => (BigInt(b.total_micros) > BigInt(a.total_micros) ? 1 : BigInt(b.total_micros) < BigInt(a.total_micros) ? -1 : a.id.localeCompare(b.id)));
    return { unit, since: since?.toISOString() ?? null, team: view(team), data };
  });

  // Tools deployed at least once (not those in development): owner, runs, last active, status.
  app.get("/api/accounts/:id/tools", takes(...PAGE), async (request) => {
    const { id } = request.params as { id: string };
    const query = request.query as Query;
    const response = await call(ledger, ledger.listTools, { accountId: id, page: page(query) });
    return { data: response.tools.map(toolView), next_page_token: response.nextPageToken, total_tools: response.totalTools, total_runs: response.totalRuns };
  });
}
