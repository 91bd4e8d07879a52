import { EventEmitter } from "node:events";

/**
 * Follows an ordered log (rows with a growing cursor): everything after a
 * cursor, then each new row as it appears. `notify()` wakes followers at once
 * for rows written by this process; rows written by other replicas are found
 * by polling every `pollMs`.
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

  async *follow(after: bigint, signal: AbortSignal): AsyncGenerator<Row> {
    let cursor = after;
    while (!signal.aborted) {
      const rows = await this.fetchAfter(cursor, this.batch);
      for (const row of rows) {
        yield row;
        cursor = this.cursorOf(row);
      }
      if (rows.length < this.batch) await this.nextWake(signal);
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
