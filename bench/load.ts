/**
 * The load generator: a fixed set of gRPC channels shared by the callers,
 * closed-loop at a fixed concurrency (throughput) or open-loop at a fixed
 * rate with latency measured from each operation's intended start (so a
 * stalled server cannot hide its queueing delay: no coordinated omission).
 */
export class Latencies {
  private readonly samples = new Map<string, number[]>();

  record(rpc: string, ms: number): void {
    let list = this.samples.get(rpc);
    if (!list) this.samples.set(rpc, (list = []));
    list.push(ms);
  }

  /** Times `fn` and records it under `rpc`. */
  async time<T>(rpc: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.record(rpc, performance.now() - started);
    }
  }

  percentiles(): Record<string, { count: number; p50Ms: number; p99Ms: number }> {
    const result: Record<string, { count: number; p50Ms: number; p99Ms: number }> = {};
    for (const [rpc, list] of this.samples) {
      const sorted = [...list].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      result[rpc] = { count: sorted.length, p50Ms: round(at(0.5)), p99Ms: round(at(0.99)) };
    }
    return result;
  }
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export interface LoopResult {
  operations: number;
  errors: number;
  seconds: number;
  perSecond: number;
  latencies: Latencies;
  firstError?: string;
}

/** `concurrency` callers each run `operation` back to back for `seconds`. */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  operation: (worker: number, iteration: number, latencies: Latencies) => Promise<void>,
): Promise<LoopResult> {
  const latencies = new Latencies();
  const deadline = performance.now() + seconds * 1000;
  let operations = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let iteration = 0; performance.now() < deadline; iteration++) {
        try {
          await operation(worker, iteration, latencies);
          operations++;
        } catch (error) {
          errors++;
          firstError ??= (error as Error).message;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { operations, errors, seconds: elapsed, perSecond: operations / elapsed, latencies, ...(firstError ? { firstError } : {}) };
}

/**
 * Starts `operation` at `ratePerSecond` for `seconds` whatever the server's
 * speed; `operation` receives the intended start time to measure from.
 */
export async function openLoop(
  ratePerSecond: number,
  seconds: number,
  operation: (index: number, intendedStart: number, latencies: Latencies) => Promise<void>,
): Promise<LoopResult> {
  const latencies = new Latencies();
  const total = Math.max(1, Math.floor(ratePerSecond * seconds));
  const intervalMs = 1000 / ratePerSecond;
  const started = performance.now();
  let errors = 0;
  let firstError: string | undefined;
  const inFlight: Promise<void>[] = [];
  for (let index = 0; index < total; index++) {
    const intended = started + index * intervalMs;
    const wait = intended - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      operation(index, intended, latencies).catch((error: unknown) => {
        errors++;
        firstError ??= (error as Error).message;
      }),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - started) / 1000;
  return { operations: total - errors, errors, seconds: elapsed, perSecond: (total - errors) / elapsed, latencies, ...(firstError ? { firstError } : {}) };
}
