import { describe, expect, it } from "vitest";
import { crossings } from "./thresholds.js";

describe("threshold crossings", () => {
  const base = { allottedMicros: 100n, collectedMicros: 1n, thresholdPercents: [50, 80, 100], crossedPercents: [] as number[] };

  it("emits every threshold the usage reached, once", () => {
    expect(crossings({ ...base, balanceAfterMicros: 15n })).toEqual({
      crossed: [50, 80], events: [{ thresholdPercent: 50, percentUsed: 85 }, { thresholdPercent: 80, percentUsed: 85 }],
    });
    expect(crossings({ ...base, balanceAfterMicros: 15n, crossedPercents: [50, 80] }).events).toEqual([]);
  });

  it("counts exactly reaching a threshold, and usage beyond the allotment", () => {
    expect(crossings({ ...base, balanceAfterMicros: 50n }).crossed).toEqual([50]);
    expect(crossings({ ...base, balanceAfterMicros: -20n }).events.at(-1)).toEqual({ thresholdPercent: 100, percentUsed: 120 });
  });

  it("emits nothing for a charge that collected nothing or an account with no allotment", () => {
    expect(crossings({ ...base, balanceAfterMicros: 0n, collectedMicros: 0n }).events).toEqual([]);
    expect(crossings({ ...base, balanceAfterMicros: -5n, allottedMicros: 0n }).events).toEqual([]);
  });
});
