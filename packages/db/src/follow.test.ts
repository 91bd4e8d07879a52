import { expect, it } from "vitest";
import { LogFollower } from "./follow.js";

it("tells a follower where the log ends: with the last row of what was there, then in heartbeats while nothing new arrives", async () => {
  const log = [1n, 2n, 3n, 4n, 5n];
  const follower = new LogFollower(async (after, limit) => log.filter((c) => c > after).slice(0, limit), (c) => c, 20, 2);
  const abort = new AbortController();
  const seen: { row?: bigint; head: bigint | undefined }[] = [];
  const started = Date.now();
  for await (const item of follower.follow(0n, abort.signal, 50)) {
    seen.push(item);
    if (item.row === 5n) {
      log.push(6n); // published while the follower is behind: the next head says so
      follower.notify();
    }
    if (seen.filter((s) => s.row === undefined).length === 2) abort.abort();
  }
  // Full batches of two carry no head (a backlog: not known); the last of a short one does.
  expect(seen.slice(0, 6)).toEqual([
    { row: 1n, head: undefined },
    { row: 2n, head: undefined },
    { row: 3n, head: undefined },
    { row: 4n, head: undefined },
    { row: 5n, head: 5n },
    { row: 6n, head: 6n },
  ]);
  // Then heartbeats only, each after the interval.
  expect(seen.slice(6)).toEqual([{ head: 6n }, { head: 6n }]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(100);
});
