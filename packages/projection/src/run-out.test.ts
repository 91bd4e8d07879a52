import { describe, expect, it } from "vitest";
import { LATEST_RUN_OUT, projectRunOut, runOutAt, RUN_OUT_MIN_EVENTS, type UsageHistory } from "./run-out.js";

const DAY = 86_400_000;
const now = new Date("2026-11-20T00:00:00Z");
const history = (fields: Partial<UsageHistory> = {}): UsageHistory => ({
  cycleEnd: new Date(now.getTime() + 10 * DAY), availableMicros: 60n, usedMicros: 15n, usageEvents: RUN_OUT_MIN_EVENTS, firstUsageAt: new Date(now.getTime() - 2 * DAY), ...fields,
});

describe("the run-out projection", () => {
  it("projects at the rate since the cycle's first charge: 15 used in 2 days, 60 left → 8 days from now", () => {
    expect(projectRunOut(history(), now)).toEqual(new Date(now.getTime() + 8 * DAY));
  });

  it("needs a day of history and five charges (15 of 75 credits spent in an hour is no projection)", () => {
    expect(projectRunOut(history({ firstUsageAt: new Date(now.getTime() - 3_600_000) }), now)).toBeUndefined();
    expect(projectRunOut(history({ firstUsageAt: new Date(now.getTime() - DAY + 1) }), now)).toBeUndefined();
    expect(projectRunOut(history({ firstUsageAt: new Date(now.getTime() - DAY) }), now)).toBeDefined();
    expect(projectRunOut(history({ usageEvents: RUN_OUT_MIN_EVENTS - 1 }), now)).toBeUndefined();
    expect(projectRunOut(history({ firstUsageAt: undefined }), now)).toBeUndefined();
  });

  it("projects a large balance used by a trickle to LATEST_RUN_OUT at the latest, never past what a Date holds", () => {
    // 10^12 credits left after 1,500 micro-units in 19 days: 3.5 × 10^13 years at that rate.
    const idle = history({ availableMicros: 10n ** 18n, usedMicros: 1_500n, firstUsageAt: new Date(now.getTime() - 19 * DAY) });
    expect(runOutAt(idle, now)).toEqual(LATEST_RUN_OUT);
    expect(projectRunOut(idle, now)).toBeUndefined();
  });

  it("warns only when the balance runs out before the cycle ends, and not when nothing is left or used", () => {
    expect(projectRunOut(history({ cycleEnd: new Date(now.getTime() + 8 * DAY) }), now)).toBeUndefined();
    expect(runOutAt(history({ cycleEnd: new Date(now.getTime() + 8 * DAY) }), now)).toEqual(new Date(now.getTime() + 8 * DAY));
    expect(projectRunOut(history({ availableMicros: 0n }), now)).toBeUndefined();
    expect(projectRunOut(history({ usedMicros: 0n }), now)).toBeUndefined();
  });
});
