import { describe, expect, it } from "vitest";
import { occurredAt } from "./late-usage.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date("2026-11-20T12:00:00Z");
const anchor = new Date("2026-01-15T00:00:00Z"); // cycles start on the 15th: current from 2026-11-15, previous from 2026-10-15

describe("late usage (occurred_at)", () => {
  it("accepts a moment of the current or previous cycle within the key retention", () => {
    expect(occurredAt(new Date(now.getTime() - HOUR), now, anchor, 7 * DAY)).toEqual({ atMs: now.getTime() - HOUR });
    // Previous cycle (before 2026-11-15), with a retention long enough.
    expect(occurredAt(new Date("2026-10-20T00:00:00Z"), now, anchor, 40 * DAY)).toEqual({ atMs: Date.parse("2026-10-20T00:00:00Z") });
    // A caller's clock slightly ahead counts as now.
    expect(occurredAt(new Date(now.getTime() + 30_000), now, anchor, 7 * DAY)).toEqual({ atMs: now.getTime() });
  });

  it("refuses the future, before the previous cycle and older than the idempotency-key retention, naming occurred_at", () => {
    expect(occurredAt(new Date(now.getTime() + HOUR), now, anchor, 7 * DAY)).toMatchObject({ code: "INVALID_ARGUMENT", field: "occurred_at", message: expect.stringContaining("future") });
    expect(occurredAt(new Date("2026-10-14T23:59:59Z"), now, anchor, 90 * DAY)).toMatchObject({ field: "occurred_at", message: expect.stringContaining("previous billing cycle (from 2026-10-15") });
    expect(occurredAt(new Date(now.getTime() - 7 * DAY - 1), now, anchor, 7 * DAY)).toMatchObject({ field: "occurred_at", message: expect.stringContaining("168 hours") });
    // A report recorded with a moment a minute ahead, its key stamped a minute before the decision (a lock wait),
    // replayed just after the key was pruned by a database clock a minute ahead: within the retention, so it must
    // fall outside what is accepted.
    const stampedMs = now.getTime() - 7 * DAY + 60_000; // by the ledger's clock: pruned at now by the database's
    expect(occurredAt(new Date(stampedMs + 60_000 + 59_000), now, anchor, 7 * DAY)).toMatchObject({ field: "occurred_at", message: expect.stringContaining("less 10 minutes") });
    expect(occurredAt(new Date(now.getTime() - 7 * DAY + 10 * 60_000), now, anchor, 7 * DAY)).toEqual({ atMs: now.getTime() - 7 * DAY + 10 * 60_000 });
    expect(occurredAt(new Date(Number.NaN), now, anchor, 7 * DAY)).toMatchObject({ field: "occurred_at" });
  });
});
