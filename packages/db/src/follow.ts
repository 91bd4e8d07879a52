import { EventEmitter } from "node:events";
import type { EntityManager } from "@mikro-orm/postgresql";
import { sql } from "./sql.js";

/** How often a caught-up follower is told where the log ends while nothing new arrives. */
export const HEARTBEAT_MS = 5_000;

/**
 * How long a followed stream may send nothing before it is taken for hung and
 * opened again: six missed heartbeats.
 */
export const SILENT_STREAM_MS = 6 * HEARTBEAT_MS;

/**
 * Calls `onSilent` once a followed stream has sent nothing for `silenceMs`:
 * `heard()` on each message puts the moment off, `stop()` ends the watch.
 */
export class SilenceWatchdog {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly silenceMs: number,
    private readonly onSilent: () => void,
  ) {}

  heard(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onSilent, this.silenceMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Makes the writers of one log take turns from here until they commit: call
 * it in the writing transaction before its row takes its cursor (a sequence's
 * next value). A follower reads the rows past its cursor; without turns, a row
 * that took 10 and committed after a row that took 11 was read is never read.
 * Writers on every replica share the turn (a transaction-scoped advisory lock).
 */
export async function takeLogTurn(tx: EntityManager, log: string): Promise<void> {
  if (!tx.isInTransaction()) throw new Error(`takeLogTurn(${log}) must run in the writing transaction`);
  await sql(tx, `select pg_advisory_xact_lock(hashtext(?))`, [`log:${log}`]);
}

/**
 * Follows an ordered log (rows with a growing cursor): everything after a
 * cursor, then each new row as it appears. `notify()` wakes followers at once
 * for rows written by this process; rows written by other replicas are found
 * by polling every `pollMs`. Its writers take turns (`takeLogTurn`).
 */
export class LogFollower<Row> {
  private readonly wake = new EventEmitter();

  constructor(
    private readonly fetchAfter: (cursor: bigint, limit: number) => Promise<Row[]>,
    private readonly cursorOf: (row: Row) => bigint,
    private readonly pollMs = 500,
    private readonly batch = 100,
  ) {
    this.wake.setMaxListeners(0);
  }

  notify(): void {
    this.wake.emit("wake");
  }

  /**
   * Everything after `after`, then each new row as it appears, telling where
   * the log ends (a follower's lag, and its heartbeat): a row's `head` is the
   * newest cursor in the log when it is the last of what was there (undefined
   * while a backlog is sent), and once caught up, a `{ head }` without a row
   * comes at once and then every `heartbeatMs` while nothing new arrives.
   */
  async *follow(after: bigint, signal: AbortSignal, heartbeatMs = HEARTBEAT_MS): AsyncGenerator<{ row?: Row; head: bigint | undefined }> {
    let cursor = after;
    let toldAt: number | undefined;
    while (!signal.aborted) {
      const rows = await this.fetchAfter(cursor, this.batch);
      const caughtUp = rows.length < this.batch;
      for (const [i, row] of rows.entries()) {
        cursor = this.cursorOf(row);
        const head = caughtUp && i === rows.length - 1 ? cursor : undefined;
        yield { row, head };
        if (head !== undefined) toldAt = Date.now();
      }
      if (!caughtUp) continue;
      if (toldAt === undefined || Date.now() - toldAt >= heartbeatMs) {
        yield { head: cursor };
        toldAt = Date.now();
      }
      await this.nextWake(signal);
    }
  }

  private nextWake(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake.off("wake", done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      this.wake.once("wake", done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
