import { describe, expect, it } from "vitest";
import { TimeOrderedIds } from "./time-ordered-ids.js";

describe("time-ordered ids", () => {
  it("sort in the order they were made, within one millisecond and across the counter's end", () => {
    const ids = new TimeOrderedIds();
    const made = Array.from({ length: 10_000 }, () => ids.next(1_798_000_000_000));
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
    expect(ids.next(1_798_000_000_001) > made.at(-1)!).toBe(true);
  });

  it("are version 7, variant 10 UUIDs carrying their millisecond", () => {
    const id = new TimeOrderedIds().next(0x0123_4567_89ab);
    expect(id).toMatch(/^01234567-89ab-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("never go back when the clock does", () => {
    const ids = new TimeOrderedIds();
    const first = ids.next(2_000);
    expect(ids.next(1_000) > first).toBe(true);
  });
});
