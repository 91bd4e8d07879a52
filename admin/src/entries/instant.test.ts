import { expect, it } from "vitest";
import { instantForPicker, pickedInstant } from "./instant";

it("sends a picked local date and time as the instant it names, in UTC with its Z; nothing when cleared", () => {
  const local = "2026-11-20T09:30";
  expect(pickedInstant(local)).toBe(new Date(2026, 10, 20, 9, 30).toISOString());
  expect(pickedInstant(local)).toMatch(/^2026-11-2\dT\d\d:30:00\.000Z$/);
  expect(pickedInstant("2026-11-20T09:30:15")).toBe(new Date(2026, 10, 20, 9, 30, 15).toISOString());
  for (const cleared of ["", null, undefined, "not a time"]) expect(pickedInstant(cleared)).toBe("");
});

it("shows an instant in the picker as the local time it names, to the second, and back unchanged", () => {
  const instant = new Date(2026, 10, 20, 9, 30, 15).toISOString();
  expect(instantForPicker(instant)).toBe("2026-11-20T09:30:15");
  expect(pickedInstant(instantForPicker(instant))).toBe(instant);
  for (const none of ["", null, undefined, "not a time"]) expect(instantForPicker(none)).toBe("");
});
