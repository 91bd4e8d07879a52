import { describe, expect, it } from "vitest";
import { statusIcon } from "./status-icon.js";

describe("statusIcon", () => {
  it.each([
    [100n, 100n, "green"],
    [76n, 100n, "green"],
    [75n, 100n, "yellow"],
    [25n, 100n, "yellow"],
    [24n, 100n, "red"],
    [1n, 100n, "red"],
    [0n, 100n, "warning"],
    [-5n, 100n, "warning"],
  ] as const)("%s remaining of %s is %s", (remaining, allotted, icon) => {
    expect(statusIcon(remaining, allotted)).toBe(icon);
  });
});
