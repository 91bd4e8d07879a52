import { log } from "@tollgate/telemetry";

/** How long one shutdown step may run before it is named in the log and left behind. */
export const STOP_STEP_TIMEOUT_MS = 10_000;

/**
 * Runs a service's shutdown steps in order, each named. A step still running
 * after `stepTimeoutMs` is logged by name and left behind, so the steps after
 * it still run and the service stops within its grace period (Kubernetes
 * gives 30 s) even when one part is stuck: a call to a peer already gone, a
 * query waiting on a lock, a mail server that stopped answering. What a
 * left-behind step was doing is redone after a restart (events are re-read
 * from the stored offset; a delivery's lease expires and it is retried).
 *
 * A step that throws does not stop the others; once all have run, the
 * failures are thrown together.
 */
export async function stopInOrder(service: string, steps: Record<string, () => unknown>, stepTimeoutMs = STOP_STEP_TIMEOUT_MS): Promise<void> {
  const failures: unknown[] = [];
  for (const [step, run] of Object.entries(steps)) {
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
      new Promise<"timed out">((resolve) => (timer = setTimeout(() => resolve("timed out"), stepTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === "timed out") log().warn({ service, step, timeoutMs: stepTimeoutMs }, "a shutdown step is still running; leaving it behind");
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} shutdown steps of ${service} failed`);
}
