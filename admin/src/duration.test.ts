import { describe, expect, it } from "vitest";
import { formatDuration } from "./duration";

describe("formatDuration", () => {
  it("shows hours, minutes and seconds, leaving out leading zero parts", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(59)).toBe("59s");
    expect(formatDuration(125)).toBe("2m 5s");
    expect(formatDuration(3600)).toBe("1h 0m 0s");
    expect(formatDuration(3725)).toBe("1h 2m 5s");
    expect(formatDuration("90061")).toBe("25h 1m 1s");
  });

  it("shows a dash for what it cannot read", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration("")).toBe("—");
    expect(formatDuration("abc")).toBe("—");
    expect(formatDuration(-1)).toBe("—");
  });
});
