import { context, trace, type Context, type Link } from "@opentelemetry/api";
import { UnavailableError } from "@tollgate/errors";
import type { Command } from "../domain/commands.js";
import type { Ids, LedgerState } from "../domain/state.js";
import { IdsExhausted, type LedgerStateStore } from "../domain/store.js";
import { applyWrites, type Write } from "../domain/writes.js";

type Decide<T> = (state: LedgerState, ids: Ids) => { value: T; writes: readonly Write[] };

interface Pending {
  commands: readonly Command[];
  decide: Decide<unknown>;
  context: Context;
  /** performance.now() when the call joined its lane. */
  queuedAt: number;
  /** The RPC it serves, when it serves one: gone once its client cancelled or its deadline passed. */
  call: { readonly cancelled: boolean } | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Lane {
  queue: Pending[];
  busy: boolean;
}

export interface GroupCommitOptions {
  /** Batches in flight at once; an account always goes to the same lane. */
  lanes: number;
  /** Calls per transaction at most. */
  maxBatch?: number;
  /** Calls waiting in one lane at most (default 5,000): past it a call is refused UNAVAILABLE at once, so a stuck lane cannot fill the heap. */
  maxQueued?: number;
  /** Told of every transaction as it starts: its calls, and how long each waited in the lane (ms). */
  observe?: (batchSize: number, waitsMs: number[]) => void;
  /** Told when the database refused a batch as a whole (its halves are tried again). */
  refused?: (batchSize: number, error: unknown) => void;
  /** The RPC a call serves (grpc-kit's unaryCallInFlight): one whose client has gone by its turn is not decided or written. */
  callOf?: () => { readonly cancelled: boolean } | undefined;
}

/** A call whose client went away while it waited in its lane: nothing was decided or written. */
export class CallerGoneError extends UnavailableError {
  constructor() {
    super("the caller went away (cancelled, or past its deadline) before its call's turn: nothing was written", "CALLER_GONE");
  }
}

const tracer = trace.getTracer("tollgate-ledger");

/** A stable lane for an account (FNV-1a), so one account's calls never race across lanes. */
export function laneOf(account: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < account.length; i++) hash = Math.imul(hash ^ account.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

/**
 * In-process group commit, as a state store over another: a call that finds
 * its lane idle goes to the store at once, on its own; calls that arrive
 * while the lane's transaction is in flight wait and go together in the next
 * one — one `transact` over all their commands, whose decision runs each
 * call's own decision in order on the state the ones before it left. So a hot
 * account costs one lock and one balance-row update per batch, however many
 * of its calls the batch carries. Nothing is delayed on purpose: batches grow
 * only with load. Every call is answered only after the transaction that
 * holds it has committed.
 *
 * One call's failure never fails its neighbours: a call whose decision throws
 * is answered with its error and writes nothing, and a batch the database
 * refuses as a whole is split in halves, each tried again, down to the call
 * that fails alone.
 */
export class GroupCommitStore implements LedgerStateStore {
  private readonly lanes: Lane[];
  private readonly maxBatch: number;
  private readonly maxQueued: number;
  private readonly observe: (batchSize: number, waitsMs: number[]) => void;
  private readonly refused: (batchSize: number, error: unknown) => void;
  private readonly callOf: () => { readonly cancelled: boolean } | undefined;

  constructor(
    private readonly inner: LedgerStateStore,
    options: GroupCommitOptions,
  ) {
    this.lanes = Array.from({ length: Math.max(1, options.lanes) }, () => ({ queue: [], busy: false }));
    this.maxBatch = Math.max(1, options.maxBatch ?? 64);
    this.maxQueued = Math.max(1, options.maxQueued ?? 5_000);
    this.observe = options.observe ?? (() => {});
    this.refused = options.refused ?? (() => {});
    this.callOf = options.callOf ?? (() => undefined);
  }

  transact<T>(commands: readonly Command[], decide: Decide<T>): Promise<T> {
    const lane = this.lanes[laneOf(commands[0]?.accountId ?? "", this.lanes.length)]!;
    if (lane.queue.length >= this.maxQueued) {
      // Nothing was decided or written: the same call (with its idempotency key) may be sent again.
      return Promise.reject(new UnavailableError(`the ledger has ${lane.queue.length} calls waiting for a transaction: retry shortly with the same idempotency key`, "LEDGER_BUSY"));
    }
    return new Promise<T>((resolve, reject) => {
      lane.queue.push({ commands, decide, context: context.active(), queuedAt: performance.now(), call: this.callOf(), resolve: resolve as (value: unknown) => void, reject });
      if (!lane.busy) void this.drain(lane);
    });
  }

  private async drain(lane: Lane): Promise<void> {
    lane.busy = true;
    try {
      while (lane.queue.length > 0) {
        const batch = this.stillWanted(lane.queue.splice(0, this.maxBatch));
        if (batch.length === 0) continue;
        this.started(batch);
        if (batch.length === 1) await this.runAlone(batch[0]!);
        else await this.runBatch(batch);
      }
    } finally {
      lane.busy = false;
    }
  }

  /** The calls whose clients are still there; those that went away while they waited are answered CALLER_GONE, nothing written. */
  private stillWanted(calls: Pending[]): Pending[] {
    return calls.filter((pending) => {
      if (!pending.call?.cancelled) return true;
      pending.reject(new CallerGoneError());
      return false;
    });
  }

  /** Each call's span says how many calls shared its transaction; the observer hears of the batch and the waits. */
  private started(batch: Pending[]): void {
    const now = performance.now();
    for (const pending of batch) trace.getSpan(pending.context)?.setAttribute("tollgate.batch_size", batch.length);
    this.observe(batch.length, batch.map((pending) => now - pending.queuedAt));
  }

  private async runAlone(pending: Pending): Promise<void> {
    try {
      pending.resolve(await context.with(pending.context, () => this.inner.transact(pending.commands, pending.decide)));
    } catch (error) {
      pending.reject(error);
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const links: Link[] = batch.map((p) => trace.getSpanContext(p.context)).filter((s) => s !== undefined).map((s) => ({ context: s }));
    await tracer.startActiveSpan("ledger.group_commit", { links, attributes: { "tollgate.batch_size": batch.length } }, batch[0]!.context, async (span) => {
      try {
        await this.commit(batch);
      } finally {
        span.end();
      }
    });
  }

  /** One transaction for the batch; if the database refuses it, each half again (a call alone is answered with its error). */
  private async commit(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return this.runAlone(batch[0]!);
    let outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[];
    try {
      outcomes = await this.inner.transact(batch.flatMap((p) => p.commands), (state, ids) => {
        const decided: typeof outcomes = [];
        const writes: Write[] = [];
        for (const pending of batch) {
          try {
            const one = pending.decide(state, ids);
            // The next call decides on the state this one leaves.
            applyWrites(state, one.writes);
            writes.push(...one.writes);
            decided.push({ ok: true, value: one.value });
          } catch (error) {
            if (error instanceof IdsExhausted) throw error; // the store decides the whole batch again
            decided.push({ ok: false, error });
          }
        }
        return { value: decided, writes };
      });
    } catch (error) {
      this.refused(batch.length, error);
      const half = Math.ceil(batch.length / 2);
      await this.commit(batch.slice(0, half));
      await this.commit(batch.slice(half));
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}
