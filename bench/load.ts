/**
 * The load generator: a fixed set of gRPC channels shared by the callers,
 * closed-loop at a fixed concurrency (throughput) or open-loop at a fixed
 * rate with latency measured from each operation's intended start (so a
 * stalled server cannot hide its queueing delay: no coordinated omission).
 */
import { constants, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";

export class Latencies {
  private readonly samples = new Map<string, number[]>();
  /** Per rpc, when each recorded operation started (ms into the loop), beside `samples` (open loops only). */
  private readonly starts = new Map<string, number[]>();

  record(rpc: string, ms: number, startedAtMs?: number): void {
    let list = this.samples.get(rpc);
    if (!list) this.samples.set(rpc, (list = []));
    list.push(ms);
    if (startedAtMs === undefined) return;
    let at = this.starts.get(rpc);
    if (!at) this.starts.set(rpc, (at = []));
    at.push(startedAtMs);
  }

  /**
   * When the slowest `fraction` of `rpc`'s operations started, as windows of
   * operations that started within `gapMs` of each other: a few windows are
   * stalls of the system, many spread out are a slow system.
   */
  slowest(rpc: string, fraction = 0.01, gapMs = 250): { fromS: number; toS: number; count: number; worstMs: number }[] {
    const ms = this.samples.get(rpc) ?? [];
    const at = this.starts.get(rpc) ?? [];
    if (at.length !== ms.length || ms.length === 0) return [];
    const worst = ms.map((latency, i) => ({ latency, at: at[i]! })).sort((a, b) => b.latency - a.latency).slice(0, Math.max(1, Math.floor(fraction * ms.length)));
    worst.sort((a, b) => a.at - b.at);
    const windows: { fromS: number; toS: number; count: number; worstMs: number }[] = [];
    let lastStart = -Infinity;
    for (const { latency, at: start } of worst) {
      const last = windows.at(-1);
      if (last && start - lastStart <= gapMs) {
        last.toS = round(start / 1000);
        last.count++;
        last.worstMs = Math.max(last.worstMs, round(latency));
      } else windows.push({ fromS: round(start / 1000), toS: round(start / 1000), count: 1, worstMs: round(latency) });
      lastStart = start;
    }
    return windows;
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
  /** The load generator's own garbage collections during an open loop: its pauses delay sending and reading as a server's do. */
  loadGeneratorGc?: GcPauses;
}

export interface GcPauses {
  /** Full (mark-compact) collections. */
  major: { count: number; ms: number };
  /** Everything else V8 reports: scavenges, incremental marking steps, weak callbacks. */
  other: { count: number; ms: number };
  /** The longest single pause (ms) and when it started (s into the loop). */
  longest: { ms: number; atS: number };
}

/** Watches this process's garbage collections from now until the returned function is called. */
function watchGc(since: number): () => GcPauses {
  const pauses: GcPauses = { major: { count: 0, ms: 0 }, other: { count: 0, ms: 0 }, longest: { ms: 0, atS: 0 } };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      const bucket = kind === constants.NODE_PERFORMANCE_GC_MAJOR ? pauses.major : pauses.other;
      bucket.count++;
      bucket.ms += entry.duration;
      if (entry.duration > pauses.longest.ms) pauses.longest = { ms: entry.duration, atS: (entry.startTime - since) / 1000 };
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return () => {
    observer.disconnect();
    const rounded = (b: { count: number; ms: number }) => ({ count: b.count, ms: round(b.ms, 1) });
    return { major: rounded(pauses.major), other: rounded(pauses.other), longest: { ms: round(pauses.longest.ms, 1), atS: round(pauses.longest.atS) } };
  };
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
 * speed; `operation` receives the intended start time to measure from, and
 * when the loop started (so it can record when each operation began).
 */
export async function openLoop(
  ratePerSecond: number,
  seconds: number,
  operation: (index: number, intendedStart: number, latencies: Latencies, loopStart: number) => Promise<void>,
): Promise<LoopResult> {
  const latencies = new Latencies();
  const total = Math.max(1, Math.floor(ratePerSecond * seconds));
  const intervalMs = 1000 / ratePerSecond;
  const started = performance.now();
  const gc = watchGc(started);
  let errors = 0;
  let firstError: string | undefined;
  const inFlight: Promise<void>[] = [];
  for (let index = 0; index < total; index++) {
    const intended = started + index * intervalMs;
    const wait = intended - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      operation(index, intended, latencies, started).catch((error: unknown) => {
        errors++;
        firstError ??= (error as Error).message;
      }),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - started) / 1000;
  const loadGeneratorGc = gc();
  return { operations: total - errors, errors, seconds: elapsed, perSecond: (total - errors) / elapsed, latencies, loadGeneratorGc, ...(firstError ? { firstError } : {}) };
}
