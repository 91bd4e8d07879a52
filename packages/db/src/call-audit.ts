import { defineEntity, p } from "@mikro-orm/core";
import { MikroORM } from "@mikro-orm/postgresql";
import { callAuditMigrations } from "./call-audit/index.js";
import { openDatabase, sql } from "./index.js";

/**
 * The audit of admin calls made over gRPC, in the `audit` schema every
 * service writes and the gateway reads: one row per audited call (who, in
 * which roles, for whom, why, what changed, the outcome and the trace), and
 * one row per caller, RPC and minute for refused calls, whose `count` grows
 * instead of the log.
 */
export interface CallRecord {
  rpc: string;
  principal: string;
  roles: readonly string[];
  onBehalfOf: string | undefined;
  reason: string;
  accountId: string | undefined;
  before: unknown;
  after: unknown;
  traceId: string;
  /** `OK` or the gRPC status name. */
  outcome: string;
}

/** What a page of the call audit is narrowed to (all given must match). */
export interface CallAuditFilter {
  accountId?: string;
  /** A principal, or the console user calls were made for. */
  actor?: string;
  refused?: boolean;
}

export interface CallAuditRow {
  callId: string;
  at: Date;
  rpc: string;
  principal: string;
  roles: string;
  onBehalfOf: string | null;
  reason: string;
  accountId: string | null;
  before: unknown;
  after: unknown;
  traceId: string;
  outcome: string;
  count: number;
  refused: boolean;
}

const CallAuditSchema = defineEntity({
  name: "CallAudit",
  tableName: "calls",
  properties: {
    callId: p.bigint("string").primary().autoincrement().fieldName("call_id"),
    rpc: p.string(),
  },
});

const WINDOW_MS = 60_000;

export class CallAuditLog {
  private constructor(private readonly orm: MikroORM) {}

  /** Opens the log (bringing its schema up to date; services starting together may race on that, so it is retried). */
  static async open(url: string): Promise<CallAuditLog> {
    for (let attempt = 1; ; attempt++) {
      try {
        return new CallAuditLog(await openDatabase({ url, schema: "audit", entities: [CallAuditSchema], migrations: callAuditMigrations, poolMax: 2 }));
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  async record(call: CallRecord): Promise<void> {
    await sql(
      this.orm.em,
      `insert into audit.calls (rpc, principal, roles, on_behalf_of, reason, account_id, before, after, trace_id, outcome)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [call.rpc, call.principal, call.roles.join(","), call.onBehalfOf ?? null, call.reason, call.accountId ?? null, json(call.before), json(call.after), call.traceId, call.outcome],
    );
  }

  /** A refused call: counted in its caller's row for this RPC, account and minute. */
  async refused(call: Omit<CallRecord, "before" | "after" | "onBehalfOf" | "reason">, at = new Date()): Promise<void> {
    const window = new Date(Math.floor(at.getTime() / WINDOW_MS) * WINDOW_MS);
    await sql(
      this.orm.em,
      `insert into audit.calls (rpc, principal, roles, account_id, trace_id, outcome, refusal_window)
       values (?, ?, ?, ?, ?, ?, ?)
       on conflict (principal, rpc, (coalesce(account_id, '')), refusal_window) where refusal_window is not null
       do update set count = audit.calls.count + 1, at = now(), trace_id = excluded.trace_id, outcome = excluded.outcome`,
      [call.rpc, call.principal, call.roles.join(","), call.accountId ?? null, call.traceId, call.outcome, window],
    );
  }

  /**
   * Newest first (by when a row was first written), below `beforeId`: of one
   * account, of one actor (the calls it made, and those made on its behalf),
   * only the refused calls (`refused: true`) or none of them (`false`).
   */
  async list(options: CallAuditFilter & { beforeId?: bigint; limit: number }): Promise<CallAuditRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (options.accountId) (where.push("account_id = ?"), params.push(options.accountId)); // calls_account_idx
    if (options.actor) (where.push("(principal = ? or on_behalf_of = ?)"), params.push(options.actor, options.actor)); // calls_principal_idx, calls_on_behalf_of_idx
    if (options.refused !== undefined) where.push(options.refused ? "refusal_window is not null" : "refusal_window is null"); // calls_refused_idx
    if (options.beforeId) (where.push("call_id < ?"), params.push(options.beforeId.toString()));
    const rows = await sql<Record<string, unknown>>(
      this.orm.em,
      `select * from audit.calls ${where.length ? `where ${where.join(" and ")}` : ""} order by call_id desc limit ?`,
      [...params, options.limit],
    );
    return rows.map((r) => ({
      callId: String(r.call_id),
      at: new Date(r.at as string),
      rpc: r.rpc as string,
      principal: r.principal as string,
      roles: r.roles as string,
      onBehalfOf: (r.on_behalf_of as string | null) ?? null,
      reason: r.reason as string,
      accountId: (r.account_id as string | null) ?? null,
      before: r.before ?? null,
      after: r.after ?? null,
      traceId: r.trace_id as string,
      outcome: r.outcome as string,
      count: Number(r.count),
      refused: r.refusal_window !== null,
    }));
  }

  close(): Promise<void> {
    return this.orm.close();
  }
}

const json = (value: unknown): string | null =>
  value === undefined || value === null ? null : JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
