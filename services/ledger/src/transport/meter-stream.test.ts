import { describe, expect, it } from "vitest";
import { UnavailableError } from "@tollgate/errors";
import type { BidiCall } from "@tollgate/grpc-kit";
import { ledgerV1 } from "@tollgate/proto";
import type { MeterPort } from "../domain/meter-port.js";
import { meterKeys, type MeterHold } from "../domain/meter-session.js";
import { MeterStreams, type AccountWatch, type MeterFeeds } from "./meter-stream.js";

/** A Meter call that sends one open and records what the server sends back. */
function openingCall(fields: Partial<ledgerV1.MeterOpen> = {}): BidiCall<ledgerV1.MeterRequest, ledgerV1.MeterResponse> & { sent: ledgerV1.MeterResponse[] } {
  const sent: ledgerV1.MeterResponse[] = [];
  const open = ledgerV1.MeterOpen.fromPartial({ accountId: "acct", workId: "work-1", estimate: { kind: { $case: "modelReply", modelReply: { model: "gpt-4o", replies: "1" } } }, ttlMs: "60000", ...fields });
  return {
    sent,
    messages: (async function* () {
      yield { kind: { $case: "open" as const, open } };
    })(),
    send: (message) => void sent.push(message),
    fail: () => undefined,
    context: { signal: new AbortController().signal, metadata: {}, principal: undefined },
  };
}

/** MeterStreams over quiet fakes but for the announce (`listening`, `announceOpened`); `run` drives one opening call. */
function streamsWith(feeds: Pick<MeterFeeds, "listening" | "announceOpened">, authorized: unknown[], port: MeterPort = { authorize: async (call: unknown) => void authorized.push(call) } as unknown as MeterPort, graceMs = 10) {
  const quiet = () => () => undefined;
  const all: MeterFeeds = { onRoomExhausted: quiet, onBudgetExhausted: quiet, onOpened: quiet, onReconnect: quiet, ...feeds };
  const streams = new MeterStreams(port, all, { get: async () => ({}), watch: quiet } as unknown as AccountWatch, { graceMs, log: () => undefined });
  const run = (call: ReturnType<typeof openingCall>) => (streams as unknown as { run(call: unknown): Promise<void> }).run(call);
  return { streams, run };
}

describe("MeterStreams, opening a work", () => {
  it("refuses the open UNAVAILABLE, authorizing nothing, when the other replicas cannot be told it is reopened (a parked hold would be released under it)", async () => {
    const authorized: unknown[] = [];
    const { streams, run: open } = streamsWith({
      listening: () => true,
      announceOpened: async () => {
        throw new Error("the listener is not connected");
      },
    }, authorized);
    const call = openingCall();
    const run = open(call);
    await expect(run).rejects.toBeInstanceOf(UnavailableError);
    await expect(run).rejects.toMatchObject({ reason: "METER_ANNOUNCE_FAILED" });
    expect(authorized).toEqual([]);
    expect(call.sent).toEqual([]);
    streams.stop();
  });

  it("refuses the open at once while the LISTEN connection is down, sending nothing", async () => {
    let announced = 0;
    const authorized: unknown[] = [];
    const { streams, run } = streamsWith({ listening: () => false, announceOpened: async () => void announced++ }, authorized);
    await expect(run(openingCall())).rejects.toMatchObject({ reason: "METER_ANNOUNCE_FAILED" });
    expect(announced).toBe(0);
    expect(authorized).toEqual([]);
    streams.stop();
  });

  it("refuses an open with a bad field before announcing it, so a broken stream's parked hold of the work is still released after its grace period", async () => {
    let announced = 0;
    const authorized: unknown[] = [];
    const { streams, run } = streamsWith({ listening: () => true, announceOpened: async () => void announced++ }, authorized);
    await expect(run(openingCall({ ttlMs: "soon" }))).rejects.toMatchObject({ field: "open.ttl_ms" });
    // Out of a hold's bounds (the ledger's own check, made before the announce too).
    for (const ttlMs of ["-5", String(24 * 60 * 60_000 + 1)]) await expect(run(openingCall({ ttlMs }))).rejects.toMatchObject({ field: "open.ttl_ms" });
    await expect(run(openingCall({ estimate: { kind: undefined } }))).rejects.toMatchObject({ field: expect.stringMatching(/^open\.estimate/) });
    expect(announced).toBe(0);
    expect(authorized).toEqual([]);
    streams.stop();
  });
});

describe("MeterStreams, a broken stream's hold", () => {
  const hold: MeterHold = { holdId: "hold-1", unit: "credits", amountMicros: 5_000_000n, chargedMicros: 0n, status: "open", expiresAt: new Date(Date.now() + 60_000) };
  /** A port whose Authorize answers the work's hold, or throws while `failing` is set; releases are recorded. */
  function holdingPort() {
    const state = { failing: undefined as Error | undefined, released: [] as { holdId: string; idempotencyKey: string }[] };
    const port = {
      authorize: async () => {
        if (state.failing) throw state.failing;
        return { allowed: true, holdId: hold.holdId, amountMicros: hold.amountMicros, availableMicros: 10_000_000n, metered: true, expiresAt: hold.expiresAt };
      },
      hold: async () => hold,
      room: async () => 10_000_000n,
      usedUpBudgets: async () => [],
      release: async (call: { holdId: string; idempotencyKey: string }) => {
        state.released.push({ holdId: call.holdId, idempotencyKey: call.idempotencyKey });
        return { releasedMicros: hold.amountMicros };
      },
    } as unknown as MeterPort;
    return { port, state };
  }
  /** A call that opens the work, then waits for `then` and breaks (its connection lost). */
  function breakingCall(then: Promise<unknown> = Promise.resolve()) {
    const call = openingCall();
    const open = call.messages;
    call.messages = (async function* () {
      yield* open;
      await then;
      throw new Error("connection reset");
    })();
    return call;
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("is released after the grace period when a reopen fails before it holds the work, and kept when a reopen holds it", async () => {
    const { port, state } = holdingPort();
    // The announcement comes back to this replica too (NOTIFY on its own LISTEN connection), before the announce resolves.
    const heard: ((accountId: string, workId: string, streamId: string) => void)[] = [];
    const { streams, run } = streamsWith({
      listening: () => true,
      onOpened: (listener: (accountId: string, workId: string, streamId: string) => void) => (heard.push(listener), () => undefined),
      announceOpened: async (accountId: string, workId: string, streamId: string) => heard.forEach((listener) => listener(accountId, workId, streamId)),
    } as Pick<MeterFeeds, "listening" | "announceOpened">, [], port, 150);
    try {
      await expect(run(breakingCall())).rejects.toThrow("connection reset");
      // A reopen within the grace period whose Authorize fails (the database unreachable): the hold is not left to its ttl.
      state.failing = new UnavailableError("the database is unreachable", "DATABASE_UNAVAILABLE");
      await expect(run(openingCall())).rejects.toBeInstanceOf(UnavailableError);
      await sleep(400);
      expect(state.released).toEqual([{ holdId: "hold-1", idempotencyKey: meterKeys("work-1").release }]);

      // A reopen that holds the work keeps the hold past the grace period.
      state.released.length = 0;
      state.failing = undefined;
      await expect(run(breakingCall())).rejects.toThrow("connection reset");
      let breakAgain: (value?: unknown) => void = () => undefined;
      const reopened = breakingCall(new Promise((resolve) => (breakAgain = resolve)));
      const running = run(reopened);
      await sleep(400);
      expect(reopened.sent[0]?.kind?.$case).toBe("opened");
      expect(state.released).toEqual([]);
      breakAgain();
      await expect(running).rejects.toThrow("connection reset");
    } finally {
      streams.stop();
    }
  });
});
