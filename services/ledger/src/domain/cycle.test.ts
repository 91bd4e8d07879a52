import { describe, expect, it } from "vitest";
import { LATEST_RUN_OUT, projectRunOut } from "@tollgate/projection";
import { cycleAt, cycleMetrics } from "./cycle.js";

describe("cycleAt", () => {
  it("finds the month containing now from the anchor day", () => {
    const cycle = cycleAt(new Date("2026-01-15T00:00:00Z"), new Date("2026-11-23T10:00:00Z"));
    expect(cycle.start.toISOString()).toBe("2026-11-15T00:00:00.000Z");
    expect(cycle.end.toISOString()).toBe("2026-12-15T00:00:00.000Z");
  });

  it("steps back a month before the anchor day and across a year", () => {
    const cycle = cycleAt(new Date("2026-01-20T00:00:00Z"), new Date("2027-01-05T00:00:00Z"));
    expect(cycle.start.toISOString()).toBe("2026-12-20T00:00:00.000Z");
    expect(cycle.end.toISOString()).toBe("2027-01-20T00:00:00.000Z");
  });

  it("puts a 31st anchor on the last day of shorter months", () => {
    const cycle = cycleAt(new Date("2026-01-31T00:00:00Z"), new Date("2026-02-28T12:00:00Z"));
    expect(cycle.start.toISOString()).toBe("2026-02-28T00:00:00.000Z");
    expect(cycle.end.toISOString()).toBe("2026-03-31T00:00:00.000Z");
  });

  it("comes back to the 31st in the months that have one, and starts each cycle where the last one ended", () => {
    const anchor = new Date("2026-01-31T10:00:00Z");
    const starts = ["2026-02-15", "2026-03-15", "2026-04-15", "2026-05-15", "2026-06-15", "2028-03-01"].map((day) => cycleAt(anchor, new Date(`${day}T12:00:00Z`)));
    expect(starts.map((c) => c.start.toISOString().slice(0, 10))).toEqual(["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2028-02-29"]);
    expect(starts.map((c) => c.end.toISOString().slice(0, 10))).toEqual(["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30", "2028-03-31"]);
    // The boundary belongs to the new cycle: a cycle ends at its end, not a moment later.
    expect(cycleAt(anchor, new Date("2026-02-28T09:59:59.999Z")).start.toISOString()).toBe("2026-01-31T10:00:00.000Z");
    expect(cycleAt(anchor, new Date("2026-02-28T10:00:00.000Z")).start.toISOString()).toBe("2026-02-28T10:00:00.000Z");
  });
});

describe("cycleMetrics", () => {
  const cycle = { start: new Date("2026-11-01T00:00:00Z"), end: new Date("2026-12-01T00:00:00Z") };
  const CREDIT = 1_000_000n;

  it("does not flag a fresh account: 15 of 75 credits in the first hour is no projection", () => {
    const now = new Date("2026-11-01T01:00:00Z");
    const metrics = cycleMetrics(cycle, now, { usedMicros: 15n * CREDIT, availableMicros: 60n * CREDIT, usageEvents: 15, firstUsageAt: new Date("2026-11-01T00:05:00Z") });
    expect(metrics).toMatchObject({ willRunOutBeforeCycleEnd: false, projectedDaysToEmpty: -1, runOutAt: undefined });
  });

  it("flags the run-out with its date by the same rule as notifications' warning", () => {
    const now = new Date("2026-11-10T12:00:00Z");
    const history = { usedMicros: 15n * CREDIT, availableMicros: 60n * CREDIT, usageEvents: 10, firstUsageAt: new Date("2026-11-07T12:00:00Z") };
    const metrics = cycleMetrics(cycle, now, history);
    // 15 credits in 3 days = 5 a day; 60 left = 12 days.
    expect(metrics).toMatchObject({ willRunOutBeforeCycleEnd: true, projectedDaysToEmpty: 12, runOutAt: new Date("2026-11-22T12:00:00Z") });
    expect(metrics.runOutAt).toEqual(projectRunOut({ ...history, cycleEnd: cycle.end }, now));
    // Four charges are not enough history.
    expect(cycleMetrics(cycle, now, { ...history, usageEvents: 4 })).toMatchObject({ willRunOutBeforeCycleEnd: false, projectedDaysToEmpty: -1 });
  });

  it("counts the days to LATEST_RUN_OUT for a large balance used by a trickle (it was NaN, which no answer could carry)", () => {
    const now = new Date("2026-11-20T00:00:00Z");
    const metrics = cycleMetrics(cycle, now, { usedMicros: 1_500n, availableMicros: 2n * 10n ** 15n, usageEvents: 5, firstUsageAt: new Date("2026-11-01T00:00:00Z") });
    expect(metrics).toMatchObject({ willRunOutBeforeCycleEnd: false, runOutAt: undefined, projectedDaysToEmpty: Math.floor((LATEST_RUN_OUT.getTime() - now.getTime()) / 86_400_000) });
  });
});
