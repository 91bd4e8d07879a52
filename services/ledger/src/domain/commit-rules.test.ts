import { describe, expect, it } from "vitest";
import { atCommit } from "./commit-rules.js";
import { Machine } from "./fixtures.js";
import type { Write } from "./writes.js";

describe("rules at commit", () => {
  it("decide on the batch as a whole: a charge that takes the room and a grant that gives it back say nothing", () => {
    const m = Machine.open({ allotmentMicros: 10n, negativeLimitMicros: 0n });
    const read = new Map(m.state);
    m.run(m.charge(10n));
    const charged = m.last!.writes;
    expect(atCommit(read, charged)).toEqual([{ type: "roomExhausted", accountId: "acct", unit: "credits", roomMicros: 0n }]);
    m.run(m.grant(5n));
    expect(atCommit(read, [...charged, ...m.last!.writes])).toEqual([]);
  });

  it("add nothing for a batch that moved no pool", () => {
    const m = Machine.open({ allotmentMicros: 10n });
    const read = new Map(m.state);
    m.run(m.authorize(4n));
    expect(m.last!.writes.some((w: Write) => w.type === "poolChange")).toBe(false);
    expect(atCommit(read, m.last!.writes)).toEqual([]);
  });

  it("count a pool the batch creates from the balance it was created with", () => {
    const m = Machine.open({ allotmentMicros: 0n, negativeLimitMicros: 0n });
    const read = new Map(m.state);
    m.run(m.grant(3n), m.charge(3n));
    expect(atCommit(read, m.last!.writes)).toEqual([{ type: "roomExhausted", accountId: "acct", unit: "credits", roomMicros: 0n }]);
  });
});
