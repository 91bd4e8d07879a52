import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { ledgerV1 } from "@tollgate/proto";
import { LedgerConsumer } from "./ledger-consumer.js";
import type { NotificationsStore } from "./notifications-store.js";

/** A StreamEvents call as grpc-js hands it to the consumer: data events, and cancel(). */
class FeedCall extends EventEmitter {
  cancelled = false;
  cancel(): void {
    this.cancelled = true;
  }
  send(sequence: number): void {
    this.emit("data", { event: ledgerV1.LedgerEvent.fromPartial({ sequence: String(sequence), accountId: "acct" }) });
  }
}

describe("LedgerConsumer.stop", () => {
  it("waits for the event being handled, and handles none of those still queued", async () => {
    const feed = new FeedCall();
    const client = { streamEvents: () => feed } as unknown as ledgerV1.LedgerServiceClient;
    const store = { offset: async () => 0n } as unknown as NotificationsStore;
    const handled: bigint[] = [];
    let finishFirst!: () => void;
    const firstDone = new Promise<void>((resolve) => (finishFirst = resolve));
    const consumer = new LedgerConsumer(client, store, (fn) => fn(), async ({ sequence }) => {
      if (sequence === 1n) await firstDone;
      handled.push(sequence);
    }, "test", 0);
    await consumer.start();
    feed.send(1);
    feed.send(2);
    await new Promise((resolve) => setImmediate(resolve));

    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(feed.cancelled).toBe(true);
    expect(stopped).toBe(false); // event 1 is still being handled: the store must stay open
    finishFirst();
    await stopping;
    expect(handled).toEqual([1n]); // event 2 is left to the next start, which re-reads from the stored offset
  });
});
