import { describe, expect, it } from "vitest";
import { fingerprint } from "./fingerprint.js";

describe("fingerprint", () => {
  const command = {
    type: "charge",
    accountId: "acct-1",
    zeta: 1,
    Alpha: [3, { b: 2n, a: "x", B: null }],
    at: new Date(0),
    usage: [{ kind: "modelReply", model: "m", replies: 10n }],
    "10": "n",
    nested: { y: undefined, x: true },
  };

  // Stored idempotency records hold this hash: a ledger of another release must compute the same one for the same body.
  it("is the same hash from release to release", () => {
    expect(fingerprint(command)).toBe("289d9f6c20d759f9e1259fd6a269597a06d1c8c5f62c11e08d2b0e003e4f2fbd");
  });

  it("does not depend on the order of keys, and does on every value", () => {
    const reordered = { nested: { x: true }, "10": "n", usage: command.usage, at: new Date(0), Alpha: [3, { B: null, a: "x", b: 2n }], zeta: 1, accountId: "acct-1", type: "charge" };
    expect(fingerprint(reordered)).toBe(fingerprint(command));
    expect(fingerprint({ ...command, zeta: 2 })).not.toBe(fingerprint(command));
    expect(fingerprint({ ...command, Alpha: [3, { b: 3n, a: "x", B: null }] })).not.toBe(fingerprint(command));
  });
});
