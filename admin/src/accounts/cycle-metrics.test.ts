import { describe, expect, it } from "vitest";
import type { Cycle } from "../api-types";
import { runOutText } from "./CycleMetrics";

const cycle = (projected: number | null, averagePerDay = "1000000"): Cycle =>
  ({ projected_days_to_empty: projected, average_per_day_micros: averagePerDay }) as Cycle;

describe("run-out projection text", () => {
  it("says days, under a day, or not running out", () => {
    expect(runOutText(cycle(12))).toBe("12 days");
    expect(runOutText(cycle(1))).toBe("1 day");
    expect(runOutText(cycle(0))).toBe("Under a day");
    expect(runOutText(cycle(-1))).toBe("Not running out");
    expect(runOutText(cycle(5, "0"))).toBe("Not running out");
  });
});
