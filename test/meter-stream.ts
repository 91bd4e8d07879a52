import type { ClientDuplexStream } from "@grpc/grpc-js";
import { commonV1, ledgerV1 } from "@tollgate/proto";
import { replies } from "./fixtures.js";

export type MeterResponse = ledgerV1.MeterResponse;

/** A Meter stream as a caller drives it: send messages, read the answers in order. */
export function meterStream(client: ledgerV1.LedgerServiceClient, attribution: Partial<commonV1.Attribution> = { agentId: "agent-1", model: "gpt-4o" }) {
  const stream: ClientDuplexStream<ledgerV1.MeterRequest, MeterResponse> = client.meter();
  const received: MeterResponse[] = [];
  let read = 0;
  let failure: (Error & { code?: number }) | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  stream.on("data", (message: MeterResponse) => {
    received.push(message);
    wake?.();
  });
  stream.on("error", (error: Error & { code?: number }) => {
    failure = error;
    wake?.();
  });
  stream.on("end", () => {
    ended = true;
    wake?.();
  });
  return {
    received,
    open: (accountId: string, workId: string, estimateReplies: number, ttlMs = 60_000) =>
      stream.write({
        kind: {
          $case: "open",
          open: ledgerV1.MeterOpen.fromPartial({
            accountId, workId, estimate: replies("gpt-4o", estimateReplies), ttlMs: String(ttlMs),
            attribution: commonV1.Attribution.fromPartial(attribution),
          }),
        },
      }),
    increment: (sequence: number, count: number) => stream.write({ kind: { $case: "increment", increment: ledgerV1.MeterIncrement.fromPartial({ sequence: String(sequence), usage: replies("gpt-4o", count) }) } }),
    close: (count?: number) => stream.write({ kind: { $case: "close", close: ledgerV1.MeterClose.fromPartial(count === undefined ? {} : { usage: replies("gpt-4o", count) }) } }),
    write: (message: ledgerV1.MeterRequest) => stream.write(message),
    /** The next answer not read yet (rejects with the stream's error, or after `timeoutMs`). */
    async next(timeoutMs = 5_000): Promise<MeterResponse> {
      const deadline = Date.now() + timeoutMs;
      while (read >= received.length) {
        if (failure) throw failure;
        if (ended) throw new Error("the stream ended");
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no answer within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return received[read++]!;
    },
    /** Waits until the server ends the stream: OK (undefined) or its error. */
    async finished(timeoutMs = 5_000): Promise<(Error & { code?: number }) | undefined> {
      const deadline = Date.now() + timeoutMs;
      while (!failure && !ended && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      return failure;
    },
    /** The client goes away without closing (a broken stream). */
    cancel: () => stream.cancel(),
    end: () => stream.end(),
  };
}

