import { describe, expect, it } from "vitest";
import { UnavailableError } from "@tollgate/errors";
import type { BidiCall } from "@tollgate/grpc-kit";
import { ledgerV1 } from "@tollgate/proto";
import type { MeterPort } from "../domain/meter-port.js";
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
function streamsWith(feeds: Pick<MeterFeeds, "listening" | "announceOpened">, authorized: unknown[]) {
  const quiet = () => () => undefined;
  const port = { authorize: async (call: unknown) => void authorized.push(call) } as unknown as MeterPort;
  const all: MeterFeeds = { onRoomExhausted: quiet, onBudgetExhausted: quiet, onOpened: quiet, onReconnect: quiet, ...feeds };
  const streams = new MeterStreams(port, all, { get: async () => ({}), watch: quiet } as unknown as AccountWatch, { graceMs: 10, log: () => undefined });
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
