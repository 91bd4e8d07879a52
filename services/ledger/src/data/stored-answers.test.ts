import { describe, expect, it } from "vitest";
import { decodeAnswer, encodeAnswer } from "./stored-answers.js";

describe("answers recorded under idempotency keys", () => {
  it("round-trip the state machine's answers through JSON, bigints included, and show search what the call made", () => {
    const answer = { entryId: 42n, chargedMicros: 5n, uncollectedMicros: 0n, releasedMicros: 0n, balanceMicros: -3n, proceed: true, nested: [{ x: 1n }] };
    const stored = JSON.parse(JSON.stringify(encodeAnswer(answer))) as Record<string, unknown>;
    expect(stored).toMatchObject({ v: 2, entry_id: "42" });
    expect(decodeAnswer("charge", stored)).toEqual(answer);
    expect(JSON.parse(JSON.stringify(encodeAnswer({ allowed: true, holdId: "h-1", amountMicros: 1n })))).toMatchObject({ hold_id: "h-1" });
  });

  it("read the flat answers earlier releases recorded as the state machine's, so a key answered before an upgrade replays after it", () => {
    expect(decodeAnswer("authorize", { allowed: true, hold_id: "h", amount_micros: "10", available_micros: "90", expires_at: "2026-11-30T10:00:00.000Z" }))
      .toEqual({ allowed: true, reason: null, message: "", holdId: "h", amountMicros: 10n, availableMicros: 90n, expiresAtMs: Date.parse("2026-11-30T10:00:00.000Z"), metered: true });
    expect(decodeAnswer("charge", { entry_id: "7", charged_micros: "5", uncollected_micros: "0", released_micros: "1", balance_micros: "95", proceed: true }))
      .toEqual({ entryId: 7n, chargedMicros: 5n, uncollectedMicros: 0n, releasedMicros: 1n, balanceMicros: 95n, proceed: true });
    expect(decodeAnswer("release", { released_micros: "3", status: "released" })).toEqual({ releasedMicros: 3n, status: "released" });
    expect(decodeAnswer("grant", { pool_id: "p", entry_id: "8", balance_micros: "100" })).toEqual({ poolId: "p", entryId: 8n, balanceMicros: 100n });
    expect(decodeAnswer("adjust", { entry_id: "9", balance_micros: "99" })).toEqual({ entryId: 9n, balanceMicros: 99n });
  });
});
