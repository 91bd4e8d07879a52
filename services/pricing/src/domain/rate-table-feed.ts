import { EventEmitter, on } from "node:events";
import type { RateTableStore } from "../data/rate-table-store.js";
import type { RateTableVersion } from "../data/rate-table-version.entity.js";

/**
 * Follows the append-only version log: everything after a version, then each
 * new version as it is published. Wakes at once for versions published by
 * this replica and polls for those published by others.
 */
export class RateTableFeed {
  private readonly wake = new EventEmitter();

  constructor(readonly store: RateTableStore, private readonly pollMs = 500) {
    this.wake.setMaxListeners(0);
  }

  published(): void {
    this.wake.emit("published");
  }

  async *follow(afterVersion: bigint, signal: AbortSignal): AsyncGenerator<RateTableVersion> {
    let cursor = afterVersion;
    while (!signal.aborted) {
      const rows = await this.store.after(cursor, 100);
      for (const row of rows) {
        yield row;
        cursor = BigInt(row.version);
      }
      if (rows.length === 100) continue;
      await this.nextWake(signal);
    }
  }

  private nextWake(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake.off("published", done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      this.wake.once("published", done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
