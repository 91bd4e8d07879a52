import { EventEmitter } from "node:events";
import { status } from "@grpc/grpc-js";
import { describe, expect, it, vi } from "vitest";
import { commonV1, entitlementsV1, ledgerV1 } from "@tollgate/proto";
import { rateLimitedError } from "@tollgate/grpc-kit";
import { factsOf, isOutage, LedgerConsumer } from "./ledger-consumer.js";
import type { NotificationsStore } from "./notifications-store.js";

/** A StreamEvents call as grpc-js hands it to the consumer: data events, and cancel(). */
class FeedCall extends EventEmitter {
  cancelled = false;
  constructor(readonly after = "0") {
    super();
  }
  cancel(): void {
    this.cancelled = true;
  }
  send(sequence: number): void {
    this.emit("data", { event: ledgerV1.LedgerEvent.fromPartial({ sequence: String(sequence), accountId: "acct" }), latestSequence: "0" });
  }
  heartbeat(latest: number): void {
    this.emit("data", { latestSequence: String(latest) });
  }
}

/** A ledger client whose every StreamEvents call is a new FeedCall, kept in order. */
function feedsClient(): { client: ledgerV1.LedgerServiceClient; feeds: FeedCall[]; opened: (n: number) => Promise<FeedCall> } {
  const feeds: FeedCall[] = [];
  const client = {
    streamEvents: ({ afterSequence }: { afterSequence: string }) => {
      const feed = new FeedCall(afterSequence);
      feeds.push(feed);
      return feed;
    },
  } as unknown as ledgerV1.LedgerServiceClient;
  const opened = async (n: number) => {
    while (feeds.length < n) await new Promise((resolve) => setTimeout(resolve, 5));
    return feeds[n - 1]!;
  };
  return { client, feeds, opened };
}

describe("factsOf", () => {
  it("takes an expired pool's unit from its event (credits for an event written before it was sent), and the budget that stopped work", () => {
    const expired = (unit: commonV1.Unit) => factsOf(ledgerV1.LedgerEvent.fromPartial({
      sequence: "7", accountId: "acct",
      kind: { $case: "poolExpired", poolExpired: { poolId: "p-tools", kind: entitlementsV1.PoolKind.POOL_KIND_FREE_GRANT, expiredMicros: "10000000000", unit } },
    }));
    expect(expired(commonV1.Unit.UNIT_TOOL_RUNS)).toMatchObject({ kind: "pool_expired", unit: "tool_runs" });
    expect(expired(commonV1.Unit.UNIT_UNSPECIFIED)).toMatchObject({ kind: "pool_expired", unit: "credits" });
    const stopped = factsOf(ledgerV1.LedgerEvent.fromPartial({
      sequence: "8", accountId: "acct", kind: { $case: "workStopped", workStopped: { runId: "r-1", deploymentId: "", message: "m", budgetId: "credits/task/r-1" } },
    }));
    expect(stopped).toMatchObject({ kind: "work_stopped", budgetId: "credits/task/r-1" });
  });
});

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
    }, { consumer: "test", acknowledgeMs: 0 });
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

describe("LedgerConsumer, when handling an event fails", () => {
  it("handles none of the events queued behind it, and reads again from the stored offset", async () => {
    const { client, opened } = feedsClient();
    // The handler records the offset with the event, as the real one does in its transaction.
    let offset = 0n;
    const store = { offset: async () => offset } as unknown as NotificationsStore;
    const handled: bigint[] = [];
    let failures = 1;
    const consumer = new LedgerConsumer(client, store, (fn) => fn(), async ({ sequence }) => {
      if (sequence === 2n && failures-- > 0) throw new Error("entitlements unavailable");
      handled.push(sequence);
      offset = sequence;
    }, { consumer: "test", acknowledgeMs: 0 });
    try {
      await consumer.start();
      const first = await opened(1);
      for (const sequence of [1, 2, 3, 4]) first.send(sequence);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(first.cancelled).toBe(true);
      expect(handled).toEqual([1n]); // 3 and 4 were queued behind 2: handling them would move the offset past 2
      first.emit("error", Object.assign(new Error("cancelled"), { code: 1 }));

      const second = await opened(2);
      expect(second.after).toBe("1");
      for (const sequence of [2, 3, 4]) second.send(sequence);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(handled).toEqual([1n, 2n, 3n, 4n]);
    } finally {
      await consumer.stop();
    }
  });
});

describe("LedgerConsumer, when one event keeps failing", () => {
  const byItself = () => new Error("always fails");
  const outage = () => Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: status.UNAVAILABLE });
  it.each([
    ["by itself", (_attempt: number) => byItself()],
    // An outage between its own failures is no try of its own, and does not make it start its tries over.
    ["by itself, between outages", (attempt: number) => (attempt % 2 === 0 ? byItself() : outage())],
  ])("skips it after its tries (failing %s), recording its offset with nothing decided, and handles the events after it", async (_how, failure) => {
    const { client, opened } = feedsClient();
    let offset = 0n;
    const skipped: bigint[] = [];
    const store = {
      offset: async () => offset,
      recordEvent: async (_consumer: string, sequence: bigint, decisions: { banners: unknown[]; deliveries: unknown[] }) => {
        expect(decisions).toEqual({ banners: [], deliveries: [] });
        skipped.push(sequence);
        offset = sequence;
      },
    } as unknown as NotificationsStore;
    const handled: bigint[] = [];
    let attempt = 0;
    const consumer = new LedgerConsumer(client, store, (fn) => fn(), async ({ sequence }) => {
      if (sequence === 2n) throw failure(attempt++);
      handled.push(sequence);
      offset = sequence;
    }, { consumer: "test", acknowledgeMs: 0, skipFailingAfterMs: 0 });
    try {
      await consumer.start();
      // Each stream sends what follows the stored offset; the consumer gives one up when an event fails.
      let rounds = 0;
      for (; rounds < 10 && skipped.length === 0; rounds++) {
        const feed = await opened(rounds + 1);
        for (let sequence = Number(offset) + 1; sequence <= 3; sequence++) feed.send(sequence);
        while (!feed.cancelled) await new Promise((resolve) => setTimeout(resolve, 5));
        feed.emit("error", Object.assign(new Error("cancelled"), { code: 1 }));
      }
      expect(skipped).toEqual([2n]);
      const after = await opened(rounds + 1);
      after.send(3);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(handled).toEqual([1n, 3n]);
    } finally {
      await consumer.stop();
    }
  });
});

describe("LedgerConsumer, during an outage of what handling needs", () => {
  it("never skips an event whose handling fails for an outage (entitlements UNAVAILABLE), and handles it once the outage ends", async () => {
    const { client, opened } = feedsClient();
    let offset = 0n;
    const skipped: bigint[] = [];
    const store = {
      offset: async () => offset,
      recordEvent: async (_consumer: string, sequence: bigint) => {
        skipped.push(sequence);
        offset = sequence;
      },
    } as unknown as NotificationsStore;
    let outage = true;
    let tries = 0;
    const handled: bigint[] = [];
    const consumer = new LedgerConsumer(client, store, (fn) => fn(), async ({ sequence }) => {
      if (outage) {
        tries++;
        throw Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: status.UNAVAILABLE });
      }
      handled.push(sequence);
      offset = sequence;
    }, { consumer: "test", acknowledgeMs: 0, skipFailingAfterMs: 0 });
    try {
      await consumer.start();
      for (let round = 1; round <= 5; round++) {
        const feed = await opened(round);
        feed.send(1);
        while (!feed.cancelled) await new Promise((resolve) => setTimeout(resolve, 5));
        feed.emit("error", Object.assign(new Error("cancelled"), { code: 1 }));
      }
      expect(tries).toBe(5); // past the three tries after which an event that fails by itself is skipped
      expect(skipped).toEqual([]);
      outage = false;
      const after = await opened(6);
      after.send(1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(handled).toEqual([1n]);
    } finally {
      await consumer.stop();
    }
  });

  it("does not count an outage's time toward skipping an event that also fails by itself", async () => {
    vi.useFakeTimers({ toFake: ["Date"] }); // the clock is the test's; timers are real
    const { client, opened } = feedsClient();
    const skipped: bigint[] = [];
    const store = {
      offset: async () => 0n,
      recordEvent: async (_consumer: string, sequence: bigint) => void skipped.push(sequence),
    } as unknown as NotificationsStore;
    let failure: "own" | "outage" = "own";
    const consumer = new LedgerConsumer(client, store, (fn) => fn(), async () => {
      throw failure === "own" ? new Error("always fails") : Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: status.UNAVAILABLE });
    }, { consumer: "test", acknowledgeMs: 0, skipFailingAfterMs: 30_000 });
    let round = 0;
    const fails = async () => {
      const feed = await opened(++round);
      feed.send(1);
      while (!feed.cancelled) await new Promise((resolve) => setTimeout(resolve, 5));
      feed.emit("error", Object.assign(new Error("cancelled"), { code: 1 }));
    };
    try {
      const start = Date.now();
      await consumer.start();
      await fails(); // its own failure: its first try, at 0 s
      failure = "outage";
      vi.setSystemTime(start + 10_000);
      await fails(); // an outage from 10 s...
      await fails();
      vi.setSystemTime(start + 60_000);
      failure = "own";
      await fails(); // ...to 60 s: 10 s of its own failing so far, not 60
      await fails(); // its third try, still within its 30 s
      expect(skipped).toEqual([]);
      vi.setSystemTime(start + 85_000);
      await fails(); // 35 s of its own failing: skipped (recorded before its stream is given up)
      expect(skipped).toEqual([1n]);
    } finally {
      vi.useRealTimers();
      await consumer.stop();
    }
  });

  it("tells an outage from an event's own failure", () => {
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED].map((code) => isOutage({ code }))).toEqual([true, true]);
    // RESOURCE_EXHAUSTED: a service's rate limit is waited out; anything else (grpc-js's "message larger than max") fails every time.
    expect(isOutage(rateLimitedError("notifications", 1000))).toBe(true);
    expect(isOutage({ code: status.RESOURCE_EXHAUSTED, details: "Received message larger than max (5000000 vs 4194304)" })).toBe(false);
    expect(isOutage({ code: "ECONNREFUSED" })).toBe(true);
    expect(isOutage({ code: "57P01" })).toBe(true); // PostgreSQL: terminated by the administrator
    expect(isOutage({ code: "08006" })).toBe(true); // PostgreSQL: connection failure
    expect(isOutage({ code: status.INVALID_ARGUMENT })).toBe(false);
    expect(isOutage({ code: "23505" })).toBe(false); // a unique violation
    expect(isOutage(new Error("always fails"))).toBe(false);
  });
});

describe("LedgerConsumer, when its stream goes silent", () => {
  it("cancels a stream that sent heartbeats and then nothing, and reads again from the stored offset", async () => {
    const { client, feeds, opened } = feedsClient();
    let offset = 0n;
    const store = { offset: async () => offset } as unknown as NotificationsStore;
    const consumer = new LedgerConsumer(client, store, (fn) => fn(), async ({ sequence }) => {
      offset = sequence;
    }, { consumer: "test", acknowledgeMs: 0, silenceMs: 200 });
    try {
      await consumer.start();
      const first = await opened(1);
      first.send(1);
      first.heartbeat(1);
      // Heartbeats keep it open.
      for (let i = 0; i < 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        first.heartbeat(1);
      }
      expect(first.cancelled).toBe(false);
      while (!first.cancelled) await new Promise((resolve) => setTimeout(resolve, 20));
      first.emit("error", Object.assign(new Error("cancelled"), { code: 1 }));
      await opened(2);
      expect(feeds).toHaveLength(2);
      expect(consumer.lag()).toBe(0);
    } finally {
      await consumer.stop();
    }
  });

  it("leaves open a quiet stream that has sent no heartbeat (a ledger of an earlier version sends none)", async () => {
    const { client, opened } = feedsClient();
    const store = { offset: async () => 0n } as unknown as NotificationsStore;
    const consumer = new LedgerConsumer(client, store, (fn) => fn(), async () => undefined, { consumer: "test", acknowledgeMs: 0, silenceMs: 20 });
    try {
      await consumer.start();
      const first = await opened(1);
      first.send(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(first.cancelled).toBe(false);
    } finally {
      await consumer.stop();
    }
  });

  it("counts as lag what a heartbeat says the ledger holds beyond the stored offset", async () => {
    const { client, opened } = feedsClient();
    const store = { offset: async () => 4n } as unknown as NotificationsStore;
    const consumer = new LedgerConsumer(client, store, (fn) => fn(), async () => undefined, { consumer: "test", acknowledgeMs: 0 });
    try {
      await consumer.start();
      (await opened(1)).heartbeat(10);
      expect(consumer.lag()).toBe(6);
    } finally {
      await consumer.stop();
    }
  });
});
