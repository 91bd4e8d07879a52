import { context, trace, type Context, type Link } from "@opentelemetry/api";

/** One call of a batch, as `ledger.apply_batch` reads it (`op` names the function). */
export type BatchCall = { op: "authorize" | "charge"; account: string } & Record<string, unknown>;

interface Pending {
  call: BatchCall;
  /** The same call on its own, used when it is alone in its lane. */
  alone: () => Promise<unknown>;
  context: Context;
  /** performance.now() when the call joined its lane. */
  queuedAt: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Lane {
  queue: Pending[];
  busy: boolean;
}

type BatchSlot = { ok: unknown } | { error: { code: string; message: string } };

export interface GroupCommitOptions {
  /** Batches in flight at once; an account always goes to the same lane. */
  lanes: number;
  /** Calls per transaction at most (each is a subtransaction; a backend caches 64). */
  maxBatch?: number;
  /** Told of every transaction as it starts: its calls, and how long each waited in the lane (ms). */
  observe?: (batchSize: number, waitsMs: number[]) => void;
}

const tracer = trace.getTracer("tollgate-ledger");

/** A stable lane for an account (FNV-1a), so one account's calls never race across lanes. */
export function laneOf(account: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < account.length; i++) hash = Math.imul(hash ^ account.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

/** The order balance rows are locked in, by account and then by unit, wherever one transaction takes several. */
export const lockOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The error PostgreSQL raised for one call of a batch, in the shape the driver gives (translated at the edge). */
function batchError(error: { code: string; message: string }): Error {
  return Object.assign(new Error(error.message), { code: error.code });
}

/**
 * In-process group commit. A call that finds its lane idle goes to the
 * database at once, on its own; calls that arrive while the lane's
 * transaction is in flight wait and go together in the next one. Nothing is
 * delayed on purpose: batches grow only with load. Every call is acknowledged
 * only after the transaction that holds it has committed.
 *
 * Lock order: each batch takes balance rows in (account, unit) order, and an
 * account's calls always share one lane, so batches of this process never
 * share an account and batches of two replicas take shared rows in one order.
 * Opening an account locks its units in the same order, and the pool sweeper
 * never waits for a balance row (SKIP LOCKED), so neither can close a cycle.
 */
export class GroupCommit {
  private readonly lanes: Lane[];
  private readonly maxBatch: number;
  private readonly observe: (batchSize: number, waitsMs: number[]) => void;

  constructor(
    private readonly applyBatch: (calls: BatchCall[]) => Promise<BatchSlot[]>,
    options: GroupCommitOptions,
  ) {
    this.lanes = Array.from({ length: options.lanes }, () => ({ queue: [], busy: false }));
    this.maxBatch = Math.max(1, Math.min(options.maxBatch ?? 32, 60));
    this.observe = options.observe ?? (() => {});
  }

  /** Runs `alone` at once when `call`'s lane is idle; otherwise `call` goes with the lane's next batch. */
  submit<T>(call: BatchCall, alone: () => Promise<T>): Promise<T> {
    const lane = this.lanes[laneOf(call.account, this.lanes.length)]!;
    return new Promise<T>((resolve, reject) => {
      lane.queue.push({ call, alone, context: context.active(), queuedAt: performance.now(), resolve: resolve as (value: unknown) => void, reject });
      if (!lane.busy) void this.drain(lane);
    });
  }

  private async drain(lane: Lane): Promise<void> {
    lane.busy = true;
    try {
      while (lane.queue.length > 0) {
        const batch = lane.queue.splice(0, this.maxBatch);
        this.started(batch);
        if (batch.length === 1) await this.runAlone(batch[0]!);
        else await this.runBatch(batch);
      }
    } finally {
      lane.busy = false;
    }
  }

  /** Each call's span says how many calls shared its transaction; the observer hears of the batch and the waits. */
  private started(batch: Pending[]): void {
    const now = performance.now();
    for (const pending of batch) trace.getSpan(pending.context)?.setAttribute("tollgate.batch_size", batch.length);
    this.observe(batch.length, batch.map((pending) => now - pending.queuedAt));
  }

  private async runAlone(pending: Pending): Promise<void> {
    try {
      pending.resolve(await context.with(pending.context, pending.alone));
    } catch (error) {
      pending.reject(error);
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    // One order of balance-row locks, (account, unit), for every batch, also across ledger replicas.
    batch.sort((a, b) => lockOrder(a.call.account, b.call.account) || lockOrder(String(a.call.unit ?? ""), String(b.call.unit ?? "")));
    const links: Link[] = batch.map((p) => trace.getSpanContext(p.context)).filter((s) => s !== undefined).map((s) => ({ context: s }));
    await tracer.startActiveSpan("ledger.group_commit", { links, attributes: { "tollgate.batch_size": batch.length } }, batch[0]!.context, async (span) => {
      try {
        const slots = await this.applyBatch(batch.map((p) => p.call));
        batch.forEach((pending, i) => {
          const slot = slots[i];
          if (slot && "ok" in slot) pending.resolve(slot.ok);
          else pending.reject(slot ? batchError(slot.error) : new Error("the batch returned no result for this call"));
        });
      } catch (error) {
        // The whole transaction failed (connection lost, say): nothing of it was committed.
        for (const pending of batch) pending.reject(error);
      } finally {
        span.end();
      }
    });
  }
}
