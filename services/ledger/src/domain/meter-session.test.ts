import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "@tollgate/errors";
import { meterKeys, MeterSession, type MeterHold } from "./meter-session.js";

const hold = (over: Partial<MeterHold> = {}): MeterHold => ({
  holdId: "h-1",
  unit: "credits",
  amountMicros: 100n,
  chargedMicros: 0n,
  status: "open",
  expiresAt: new Date("2026-12-01T00:05:00Z"),
  ...over,
});

const charge = (chargedMicros: bigint, proceed = true, replayed = false) => ({ chargedMicros, proceed, replayed });

describe("a Meter session's sequences", () => {
  it("takes 1, 2, 3… and answers a sequence already seen as a replay", () => {
    const session = new MeterSession("acct", "work", hold());
    expect(session.admit(1n)).toBe("next");
    expect(session.admit(2n)).toBe("next");
    expect(session.admit(1n)).toBe("replay");
    expect(session.admit(2n)).toBe("replay");
    expect(session.admit(3n)).toBe("next");
  });

  it("refuses a sequence that skips ahead, naming the field and the one expected", () => {
    const session = new MeterSession("acct", "work", hold());
    session.admit(1n);
    const error = (() => {
      try {
        session.admit(3n);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ field: "increment.sequence" });
    expect((error as Error).message).toContain("expected 2");
    expect(() => new MeterSession("acct", "work", hold()).admit(0n)).toThrow(InvalidArgumentError);
  });

  it("lets a reconnected stream resume where the work left off (the sequence before was charged), then holds it to the next", () => {
    const session = new MeterSession("acct", "work", hold());
    expect(session.resumes(7n)).toBe(true);
    expect(session.admit(7n, true)).toBe("next");
    expect(session.resumes(8n)).toBe(false);
    expect(session.admit(5n)).toBe("replay");
    expect(session.admit(8n)).toBe("next");
    expect(() => session.admit(10n)).toThrow(/expected 9/);
  });

  it("refuses a first increment past 1 whose sequence before was never charged (new work, or a gap after a reconnect)", () => {
    const session = new MeterSession("acct", "work", hold());
    expect(session.resumes(1n)).toBe(false);
    expect(() => session.admit(3n)).toThrow(/start at 1, and 2 was never charged/);
    expect(() => session.admit(3n, false)).toThrow(InvalidArgumentError);
    // Refused, it admitted nothing: the stream still starts at 1.
    expect(session.resumes(2n)).toBe(true);
    expect(session.admit(1n)).toBe("next");
    expect(session.admit(2n)).toBe("next");
  });

  it("keys every write from the work id", () => {
    const keys = meterKeys("w-9");
    expect([keys.open, keys.increment(3n), keys.close, keys.release]).toEqual(["meter:w-9:open", "meter:w-9:3", "meter:w-9:close", "meter:w-9:release"]);
    expect(new Set([keys.open, keys.increment(1n), keys.increment(2n), keys.close, keys.release]).size).toBe(5);
  });
});

describe("when a Meter session stops", () => {
  it("stops at a charge that may not proceed: NEGATIVE_LIMIT for credits, SPEND_CAP for USD", () => {
    const credits = new MeterSession("acct", "work", hold());
    expect(credits.charged(charge(40n))).toBeUndefined();
    expect(credits.charged(charge(60n, false))).toMatchObject({ reason: "NEGATIVE_LIMIT" });
    const usd = new MeterSession("acct", "work", hold({ unit: "usd" }));
    expect(usd.charged(charge(5n, false))).toMatchObject({ reason: "SPEND_CAP" });
  });

  it("stops with BUDGET at a charge a hard budget stopped, and when a hard budget over it is used up elsewhere", () => {
    expect(new MeterSession("acct", "work", hold()).charged({ ...charge(5n, false), budgetId: "credits/agent/a" })).toEqual({ reason: "BUDGET", message: "the budget credits/agent/a is used up" });
    const idle = new MeterSession("acct", "work", hold());
    expect(idle.budgetExhausted("credits/agent/a")?.reason).toBe("BUDGET");
    expect(idle.budgetExhausted("credits/agent/a")).toBeUndefined();
    expect(new MeterSession("acct", "work", undefined).budgetExhausted("credits/agent/a")).toBeUndefined();
  });

  it("stops once: later causes are not pushed again", () => {
    const session = new MeterSession("acct", "work", hold());
    expect(session.accountStatus("suspended")).toMatchObject({ reason: "ACCOUNT_SUSPENDED" });
    expect(session.charged(charge(1n, false))).toBeUndefined();
    expect(session.tick(new Date("2026-12-01T01:00:00Z"))).toBeUndefined();
    expect(session.stopped).toBe(true);
  });

  it("stops on another caller's drain only when its own hold is used up too", () => {
    const session = new MeterSession("acct", "work", hold({ amountMicros: 100n, chargedMicros: 30n }));
    expect(session.reserved).toBe(70n);
    expect(session.roomExhausted("credits", 0n)).toBeUndefined();
    expect(session.charged(charge(50n))).toBeUndefined();
    expect(session.roomExhausted("credits", -10n)).toBeUndefined(); // 20 still held for it
    expect(session.roomExhausted("tool_runs", -100n)).toBeUndefined(); // another unit
    expect(session.charged(charge(20n))).toBeUndefined();
    expect(session.reserved).toBe(0n);
    expect(session.roomExhausted("credits", 0n)).toMatchObject({ reason: "NEGATIVE_LIMIT" });
  });

  it("does not count a replayed charge against its hold twice", () => {
    const session = new MeterSession("acct", "work", hold({ amountMicros: 100n, chargedMicros: 60n }));
    session.charged(charge(60n, true, true));
    expect(session.reserved).toBe(40n);
  });

  it("stops at the hold's expiry, and at once for a hold that expired before a reconnect", () => {
    const session = new MeterSession("acct", "work", hold());
    expect(session.tick(new Date("2026-12-01T00:04:59Z"))).toBeUndefined();
    expect(session.tick(new Date("2026-12-01T00:05:00Z"))).toMatchObject({ reason: "HOLD_EXPIRED" });
    expect(session.reserved).toBe(0n);
    expect(new MeterSession("acct", "work", hold({ status: "expired" })).tick(new Date(0))).toMatchObject({ reason: "HOLD_EXPIRED" });
  });

  it("pushes nothing once the work is closed, by this stream or before a reconnect", () => {
    const closed = new MeterSession("acct", "work", hold());
    closed.close();
    expect(closed.holding).toBe(false);
    expect(closed.accountStatus("suspended")).toBeUndefined();
    expect(() => closed.admit(1n)).toThrow(InvalidArgumentError);
    expect(() => closed.close()).toThrow(InvalidArgumentError);
    const charged = new MeterSession("acct", "work", hold({ status: "charged" }));
    expect(charged.holding).toBe(false);
    expect(charged.roomExhausted("credits", -5n)).toBeUndefined();
  });

  it("holds nothing for unmetered work, yet stops it when the account is suspended", () => {
    const session = new MeterSession("acct", "work", undefined);
    expect(session.holding).toBe(false);
    expect(session.charged(charge(0n, false))).toBeUndefined();
    expect(session.roomExhausted("credits", -1n)).toBeUndefined();
    expect(session.accountStatus("suspended")).toMatchObject({ reason: "ACCOUNT_SUSPENDED" });
  });
});
