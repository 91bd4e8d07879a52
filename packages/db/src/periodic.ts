/** A job run every so often; see `every`. */
export interface PeriodicJob {
  /** Clears the timer; resolves once the run under way (if any) has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `job` every `intervalMs` (0 or less: never), never two runs at once: a
 * tick that comes while the last run is still going is skipped. A slow
 * database must not pile up sweeps, prunes and metering ticks that then take
 * every pooled connection from the calls (and hold a stopping service until
 * the backlog has run). A run that fails goes to `onError`; the next tick
 * tries again. The timer does not keep the process alive.
 */
export function every(intervalMs: number, job: () => Promise<unknown>, onError: (error: unknown) => void): PeriodicJob {
  if (intervalMs <= 0) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= job()
      .then(() => undefined, onError)
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
