import { describe, expect, it } from "vitest";
import { cycleAt } from "./cycle.js";

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
});
