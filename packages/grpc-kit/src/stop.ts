import { log } from "@tollgate/telemetry";

/** How long one shutdown step may run before it is named in the log and left behind (longer than a gRPC server's 10 s drain, which ends itself). */
export const STOP_STEP_TIMEOUT_MS = 12_000;
/** How long a whole stop may take: within the generated manifests' grace period after their preStop sleep (scripts/deploy-manifests.ts), with time to exit. */
export const STOP_TIMEOUT_MS = 25_000;

/**
 * Runs a service's shutdown steps in order, each named. A step still running
 * after its time (`stepTimeoutMs`, and no later than `totalTimeoutMs` after
 * the stop began, but at least a second) is logged by name and left behind,
 * so the steps after it still run and the service stops within its grace
 * period even when one part is stuck: a call to a peer already gone, a query
 * waiting on a lock, a mail server that stopped answering. What a
 * left-behind step was doing is redone after a restart (events are re-read
 * from the stored offset; a delivery's lease expires and it is retried).
 *
 * A step that throws or is left behind does not stop the others; once all
 * have run, they are thrown together, so the process exits with an error.
 */
export async function stopInOrder(
  service: string,
  steps: Record<string, () => unknown>,
  { stepTimeoutMs = STOP_STEP_TIMEOUT_MS, totalTimeoutMs = STOP_TIMEOUT_MS }: { stepTimeoutMs?: number; totalTimeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + totalTimeoutMs;
  const failures: unknown[] = [];
  for (const [step, run] of Object.entries(steps)) {
    const timeoutMs = Math.max(1_000, Math.min(stepTimeoutMs, deadline - Date.now()));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      Promise.resolve()
        .then(run)
        .then(
          () => "done" as const,
          (error: unknown) => {
            log().error({ err: error, service, step }, "a shutdown step failed; going on with the rest");
            failures.push(error);
            return "failed" as const;
          },
        ),
      new Promise<"timed out">((resolve) => (timer = setTimeout(() => resolve("timed out"), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === "timed out") {
      log().warn({ service, step, timeoutMs }, "a shutdown step is still running; leaving it behind");
      failures.push(new Error(`${service}: the shutdown step ${step} was still running after ${timeoutMs} ms`));
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} shutdown steps of ${service} failed`);
}

/**
 * A step made of parts stopped at once (each waits for its own work under
 * way): resolves when all have ended, and throws naming the parts that
 * failed, after all have ended.
 */
export function together(parts: Record<string, () => unknown>): () => Promise<void> {
  return async () => {
    const names = Object.keys(parts);
    const settled = await Promise.allSettled(Object.values(parts).map((stop) => Promise.resolve().then(stop)));
    const failed = settled.flatMap((outcome, i) => (outcome.status === "rejected" ? [{ part: names[i]!, error: outcome.reason as unknown }] : []));
    if (failed.length > 0) throw new AggregateError(failed.map((f) => f.error), `failed to stop: ${failed.map((f) => f.part).join(", ")}`);
  };
}
