import type { ClientDuplexStream } from "@grpc/grpc-js";
import { ledgerV1, type pricingV1 } from "@tollgate/proto";
import type { Latencies } from "./load.js";

type Response = ledgerV1.MeterResponse;

/**
 * One piece of streamed work over `LedgerService.Meter`, as a caller drives
 * it: open (authorizes `estimate`), `increments` increments of `usage`, each
 * waited for like an incremental Charge, then close with `usage` (the final
 * charge). Latencies are recorded as `Meter open`, `Meter increment` and
 * `Meter close`. Returns the charges made (increments and the final one).
 */
export async function meterWork(
  client: ledgerV1.LedgerServiceClient,
  open: { accountId: string; workId: string; estimate: pricingV1.Usage },
  usage: pricingV1.Usage,
  increments: number,
  latencies: Latencies,
  deadlineMs = 60_000,
): Promise<number> {
  const stream: ClientDuplexStream<ledgerV1.MeterRequest, Response> = client.meter({ deadline: Date.now() + deadlineMs });
  const answers = new Answers(stream);
  try {
    const opened = await latencies.time("Meter open", () => {
      stream.write({ kind: { $case: "open", open: ledgerV1.MeterOpen.fromPartial({ ...open, ttlMs: "60000" }) } });
      return answers.next();
    });
    if (opened.kind?.$case !== "opened" || !opened.kind.opened.allowed) throw new Error(`meter open refused: ${JSON.stringify(opened.kind)}`);
    let charges = 0;
    for (let sequence = 1; sequence <= increments; sequence++) {
      const charged = await latencies.time("Meter increment", () => {
        stream.write({ kind: { $case: "increment", increment: { sequence: String(sequence), usage, occurredAt: undefined } } });
        return answers.next("charged");
      });
      if (charged.kind?.$case !== "charged") throw new Error(`increment ${sequence} answered ${charged.kind?.$case}`);
      charges++;
    }
    const closed = await latencies.time("Meter close", () => {
      stream.write({ kind: { $case: "close", close: { usage, occurredAt: undefined } } });
      return answers.next("closed");
    });
    if (closed.kind?.$case !== "closed") throw new Error(`close answered ${closed.kind?.$case}`);
    stream.end();
    await answers.ended();
    return charges + 1;
  } catch (error) {
    stream.cancel();
    throw error;
  }
}

/** The stream's answers, read in order; a `stop` pushed meanwhile is skipped when waiting for another kind. */
class Answers {
  private readonly queue: Response[] = [];
  private failure: Error | undefined;
  private done = false;
  private wake: (() => void) | undefined;

  constructor(stream: ClientDuplexStream<ledgerV1.MeterRequest, Response>) {
    stream.on("data", (message: Response) => this.push(() => this.queue.push(message)));
    stream.on("error", (error: Error) => this.push(() => (this.failure = error)));
    stream.on("end", () => this.push(() => (this.done = true)));
  }

  private push(change: () => void): void {
    change();
    this.wake?.();
  }

  async next(kind?: NonNullable<Response["kind"]>["$case"]): Promise<Response> {
    for (;;) {
      const message = this.queue.shift();
      if (message && (!kind || message.kind?.$case === kind || message.kind?.$case !== "stop")) return message;
      if (message) continue;
      if (this.failure) throw this.failure;
      if (this.done) throw new Error("the Meter stream ended before its answer");
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async ended(): Promise<void> {
    while (!this.done && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
  }
}
