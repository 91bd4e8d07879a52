import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventually } from "@tollgate/testing";
import { restartDelayMs, superviseService, type Backoff } from "../scripts/services.js";

const entry = new URL("./crashing-service.mjs", import.meta.url).pathname;
const fast: Backoff = { initialMs: 5, maxMs: 40, resetAfterMs: 60_000 };

/** A supervised stand-in service that does, start after start, what `plan` says. */
async function supervised(plan: string[], backoff = fast) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-supervisor-"));
  const startsFile = join(dir, "starts");
  writeFileSync(startsFile, "");
  writeFileSync(join(dir, "plan"), plan.join("\n"));
  const logs: string[] = [];
  const service = await superviseService(
    "pricing",
    { PATH: process.env.PATH, PRICING_PORT: "0", STARTS_FILE: startsFile, PLAN_FILE: join(dir, "plan") },
    { log: (line) => logs.push(line), backoff, entry },
  );
  const starts = () => readFileSync(startsFile, "utf8").split("\n").filter(Boolean).map(Number);
  return { service, logs, starts };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("the supervisor of npm start", () => {
  it("doubles the delay after each crash in a row, up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => restartDelayMs(n))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000]);
    expect(restartDelayMs(200)).toBe(30_000);
  });

  it("restarts a crashed service with backoff and a log line, on the same port, and counts a failed restart as a crash", async () => {
    const { service, logs, starts } = await supervised(["crash", "fail", "crash", "stay"]);
    const firstAddress = service.address;
    try {
      await eventually(async () => (logs.length === 5 ? true : undefined), 60_000, "the fourth start");
      expect(logs).toEqual([
        "pricing exited (code 3); restarting in 5 ms (restart 1 in a row)",
        "pricing exited (code 4) before it listened; restarting in 10 ms (restart 2 in a row)",
        `pricing is listening again on ${firstAddress}`,
        "pricing exited (code 3); restarting in 20 ms (restart 3 in a row)",
        `pricing is listening again on ${firstAddress}`,
      ]);
      expect(service.address).toBe(firstAddress);
      expect(service.child.pid).toBe(starts()[3]);

      // Killed by a signal: a crash too.
      service.child.kill("SIGKILL");
      await eventually(async () => (logs.length === 7 ? true : undefined), 60_000, "the restart after SIGKILL");
      expect(logs.slice(5)).toEqual(["pricing exited (signal SIGKILL); restarting in 40 ms (restart 4 in a row)", `pricing is listening again on ${firstAddress}`]);
      expect(service.child.pid).toBe(starts()[4]);
    } finally {
      await service.stop();
    }
    expect(starts().filter(alive)).toEqual([]);
  });

  it("leaves a service that exits cleanly on its own stopped", async () => {
    const { service, logs, starts } = await supervised(["exit0"]);
    await eventually(async () => (logs.length > 0 ? true : undefined), 60_000, "the exit");
    expect(logs).toEqual(["pricing exited (code 0); left stopped"]);
    expect(starts()).toHaveLength(1);
    await service.stop();
  });

  it("stops at once with a restart pending, and starts nothing afterwards", async () => {
    const { service, logs, starts } = await supervised(["crash"], { initialMs: 600_000, maxMs: 600_000, resetAfterMs: 60_000 });
    await eventually(async () => (logs.length > 0 ? true : undefined), 60_000, "the crash");
    expect(logs).toEqual(["pricing exited (code 3); restarting in 600000 ms (restart 1 in a row)"]);
    await service.stop();
    expect(starts()).toHaveLength(1);
    expect(starts().filter(alive)).toEqual([]);
  });
});
