import { expect, it } from "vitest";
import { every } from "./periodic.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("never runs a job twice at once: ticks that come while it runs are skipped, not queued", async () => {
  let running = 0;
  let most = 0;
  let runs = 0;
  const job = every(5, async () => {
    runs++;
    most = Math.max(most, ++running);
    await sleep(40); // eight ticks' worth
    running--;
  }, () => undefined);
  await sleep(150);
  await job.stop();
  expect(most).toBe(1);
  expect(runs).toBeGreaterThan(0);
  // Skipped, not queued: nothing runs after stop.
  const stoppedAt = runs;
  await sleep(60);
  expect(runs).toBe(stoppedAt);
});

it("stops only once the run under way has ended, and a failed run does not end the job", async () => {
  const failures: unknown[] = [];
  let attempts = 0;
  let finished = false;
  const job = every(5, async () => {
    if (++attempts === 1) throw new Error("database gone");
    await sleep(30);
    finished = true;
  }, (error) => failures.push(error));
  while (attempts < 2) await sleep(2);
  await job.stop();
  expect(finished).toBe(true);
  expect(failures).toEqual([new Error("database gone")]);
});

it("never runs with an interval of 0", async () => {
  let runs = 0;
  const job = every(0, async () => void runs++, () => undefined);
  await sleep(20);
  await job.stop();
  expect(runs).toBe(0);
});
