import { describe, expect, it } from "vitest";
import { INT64_MAX } from "../balance.js";
import { Machine } from "../fixtures.js";

const AGENT = { agent_id: "agent-1" };

describe("budgets", () => {
  it("a hard budget denies an Authorize that does not fit in limit − used − reserved, with BUDGET_EXCEEDED", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(50n));
    const first = m.ok(m.authorize(30n, { attribution: AGENT }));
    expect(first.allowed).toBe(true);
    // The open hold reserves 30 of the 50: 25 more does not fit, 20 does.
    expect(m.ok(m.authorize(25n, { attribution: AGENT }))).toMatchObject({ allowed: false, reason: "BUDGET_EXCEEDED" });
    expect(m.ok(m.authorize(20n, { attribution: AGENT })).allowed).toBe(true);
    // Another agent and unattributed usage are not covered.
    expect(m.ok(m.authorize(500n, { attribution: { agent_id: "agent-2" } })).allowed).toBe(true);
    expect(m.ok(m.authorize(100n)).allowed).toBe(true);
  });

  it("holds a budget's use to int64, saturated at its largest value, as charges add up past it", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(50n, { mode: "soft" }));
    // As after ten thousand charges of 10^15 under a soft budget (which never stops them).
    const budget = m.account.budgets.get("credits/agent/agent-1")!;
    budget.usedMicros = INT64_MAX - 5n;
    m.ok(m.charge(10n, { attribution: AGENT }));
    expect(m.account.budgets.get("credits/agent/agent-1")!.usedMicros).toBe(INT64_MAX);
  });

  it("suspension and eligibility answer before the budget, the budget before the balance", () => {
    const m = Machine.open({ allotmentMicros: 10n });
    m.ok(m.setBudget(5n));
    expect(m.ok(m.authorize(50n, { attribution: AGENT }))).toMatchObject({ allowed: false, reason: "BUDGET_EXCEEDED" });
    expect(m.ok(m.authorize(50n, { attribution: AGENT, eligibility: { allowed: false, metered: true, reason: "no" } }))).toMatchObject({ reason: "NOT_ELIGIBLE" });
    expect(m.ok(m.authorize(50n))).toMatchObject({ allowed: false, reason: "INSUFFICIENT_CREDITS" });
  });

  it("a Charge collects at most the hard budget's room, names the budget and may not proceed; its own hold's remainder is its own", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(50n));
    const hold = m.ok(m.authorize(40n, { attribution: AGENT }));
    // 40 of the hold + 10 of the budget's room: 60 asked, 50 collected.
    const charged = m.ok(m.charge(60n, { holdId: hold.holdId!, attribution: {} }));
    expect(charged).toMatchObject({ chargedMicros: 50n, uncollectedMicros: 10n, proceed: false, budgetId: "credits/agent/agent-1" });
    expect(m.ok(m.charge(1n, { attribution: AGENT }))).toMatchObject({ chargedMicros: 0n, uncollectedMicros: 1n, proceed: false });
    expect(m.account.budgets.get("credits/agent/agent-1")!.usedMicros).toBe(50n);
    // Under the budget, a charge proceeds and names no budget.
    const other = Machine.open({ allotmentMicros: 1_000n });
    other.ok(other.setBudget(50n));
    expect(other.ok(other.charge(10n, { attribution: AGENT }))).toEqual(expect.not.objectContaining({ budgetId: expect.anything() }));
  });

  it("a Charge on a hold counts under the scopes its hold was checked against: naming another is refused, naming none keeps the hold's", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(10n));
    const hold = m.ok(m.authorize(10n, { attribution: AGENT }));
    // Charged as another agent's, the usage would leave the budget that reserved it (500 collected past a budget of 10).
    const [moved] = m.run(m.charge(500n, { holdId: hold.holdId!, attribution: { agent_id: "agent-2" } }));
    expect(moved).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", field: "attribution.agent_id" } });
    expect(m.account.holds.get(hold.holdId!)!.chargedMicros, "nothing written").toBe(0n);
    // Without the key (or with the hold's own), it is the hold's agent's: capped at the budget's room.
    expect(m.ok(m.charge(500n, { holdId: hold.holdId!, attribution: { conversation_id: "c-1" } })).chargedMicros).toBe(10n);
  });

  it("usage reported late from an earlier cycle counts in no per-cycle budget of this one, nor does its reversal", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(50n, { perCycle: true }));
    const lastCycle = m.nowMs + 10;
    m.ok(m.nextCycle());
    const late = m.ok(m.charge(40n, { attribution: AGENT, occurredAtMs: lastCycle }));
    expect(late.chargedMicros).toBe(40n);
    expect(m.account.budgets.get("credits/agent/agent-1")!.usedMicros).toBe(0n);
    // This cycle's own usage has the whole budget.
    expect(m.ok(m.charge(50n, { attribution: AGENT })).chargedMicros).toBe(50n);
    m.ok({ type: "reverse", accountId: "acct", entryId: late.entryId, reason: "refund", actor: "support", traceId: "", idempotencyKey: "r-late", requestHash: "r-late" });
    expect(m.account.budgets.get("credits/agent/agent-1")!.usedMicros, "the late charge's reversal gives this cycle nothing back").toBe(50n);
  });

  it("a budget turned per cycle counts again from then: reversing a charge from before gives it nothing back, so a hard limit holds", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(100n));
    const before = m.ok(m.charge(80n, { attribution: AGENT }));
    m.nowMs += 1_000;
    m.ok(m.setBudget(100n, { perCycle: true }));
    expect(m.account.budgets.get("credits/agent/agent-1")).toMatchObject({ usedMicros: 0n, createdAtMs: m.nowMs });
    m.nowMs += 1_000;
    expect(m.ok(m.charge(90n, { attribution: AGENT })).chargedMicros).toBe(90n);
    m.ok({ type: "reverse", accountId: "acct", entryId: before.entryId, reason: "refund", actor: "support", traceId: "", idempotencyKey: "r-before", requestHash: "r-before" });
    expect(m.account.budgets.get("credits/agent/agent-1")!.usedMicros, "the charge from before the count started again gives nothing back").toBe(90n);
    expect(m.ok(m.charge(90n, { attribution: AGENT }))).toMatchObject({ chargedMicros: 10n, proceed: false });
  });

  it("an ExtendHold and a StartWork are denied past a hard budget", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(50n));
    const hold = m.ok(m.authorize(40n, { attribution: AGENT }));
    expect(m.ok(m.extendHold(hold.holdId!, 20n, 0))).toMatchObject({ allowed: false, reason: "BUDGET_EXCEEDED" });
    expect(m.ok(m.extendHold(hold.holdId!, 10n, 0)).allowed).toBe(true);
    m.ok(m.setBudget(5n, { scope: "task", scopeId: "run-1" }));
    m.ok(m.charge(5n, { attribution: { task_id: "run-1" } }));
    const start = { type: "startWork" as const, accountId: "acct", kind: "run" as const, workId: "run-1", unit: "credits", replicas: 1, attribution: {}, endpoint: "", idempotencyKey: "s1", requestHash: "s1" };
    expect(m.ok(start)).toMatchObject({ allowed: false, reason: "BUDGET_EXCEEDED" });
  });

  it("a tick is a charge under the work's budgets: used, capped at a hard one, which stops the work; unmetered work starts past it", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(12n));
    const start = (workId: string, metered: boolean) => ({
      type: "startWork" as const, accountId: "acct", kind: "run" as const, workId, unit: "credits", replicas: 1, attribution: AGENT, endpoint: "", eligibility: { allowed: true, metered, reason: "" }, idempotencyKey: workId, requestHash: workId,
    });
    expect(m.ok(start("run-1", true)).allowed).toBe(true);
    const from = m.nowMs;
    m.nowMs += 10_000;
    const tick = { type: "meter" as const, accountId: "acct", workId: "run-1", fromMs: from, toMs: from + 5_000, amountMicros: 8n, bucket: "compute", rateTableVersion: 1n, nextState: null, replicas: null, traceparent: "", traceId: "" };
    expect(m.ok(tick)).toMatchObject({ state: "running", charge: { chargedMicros: 8n, proceed: true } });
    expect(m.ok({ ...tick, fromMs: from + 5_000, toMs: from + 10_000 })).toMatchObject({ state: "stopped", charge: { chargedMicros: 4n, uncollectedMicros: 4n, proceed: false, budgetId: "credits/agent/agent-1" } });
    expect(m.account.budgets.get("credits/agent/agent-1")!.usedMicros).toBe(12n);
    expect(m.account.work.get("run-1")).toMatchObject({ state: "stopped", chargedMicros: 12n, stopReason: "budget exceeded" });
    expect(m.events.find((e) => e.kind === "work_stopped")?.payload.message).toContain("budget");
    expect(m.ok(start("run-2", true))).toMatchObject({ allowed: false, reason: "BUDGET_EXCEEDED", message: expect.stringContaining("agent agent-1 budget") });
    expect(m.ok(start("run-3", false)).allowed).toBe(true);
  });

  it("a paused run stays paused when a hard budget over it has no room left, and resumes once support raises it", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(10n));
    const start = (workId: string) => ({
      type: "startWork" as const, accountId: "acct", kind: "run" as const, workId, unit: "credits", replicas: 1, attribution: AGENT, endpoint: "", idempotencyKey: workId, requestHash: workId,
    });
    m.ok(start("run-a"));
    m.ok(start("run-b"));
    const tick = (workId: string, fromMs: number, amountMicros: bigint, nextState: string | null = null) => ({
      type: "meter" as const, accountId: "acct", workId, fromMs, toMs: fromMs + 1_000, amountMicros, bucket: "compute", rateTableVersion: 1n, nextState, replicas: null, traceparent: "", traceId: "",
    });
    const from = m.nowMs;
    m.nowMs += 2_000;
    expect(m.ok(tick("run-a", from, 2n, "paused")).state).toBe("paused");
    expect(m.ok(tick("run-b", from, 8n)).state).toBe("stopped"); // run-b used the agent's last 8 credits
    const resume = { type: "resumeWork" as const, accountId: "acct", workId: "run-a" };
    expect(m.ok(resume)).toMatchObject({ state: "paused", budgetId: "credits/agent/agent-1" });
    expect(m.account.work.get("run-a")!.state).toBe("paused");
    m.ok(m.setBudget(20n));
    expect(m.ok(resume)).toMatchObject({ state: "running" });
  });

  it("a run is its own task: StartWork naming another task_id is refused, so a task budget is never silently escaped", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(10n, { scope: "task", scopeId: "task-A" }));
    const start = (attribution: Record<string, string>) => ({
      type: "startWork" as const, accountId: "acct", kind: "run" as const, workId: "run-1", unit: "credits", replicas: 1, attribution, endpoint: "", idempotencyKey: `s-${Object.keys(attribution).length}`, requestHash: `s-${Object.keys(attribution).length}`,
    });
    const [named] = m.run(start({ task_id: "task-A" }));
    expect(named).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", field: "attribution.task_id" } });
    expect(m.account.work.has("run-1")).toBe(false);
    expect(m.ok(start({ task_id: "run-1", agent_id: "agent-1" })).allowed).toBe(true);
  });

  it("a paused run resumes when what kept its budget full was an expired hold's reservation", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(10n));
    m.ok({ type: "startWork", accountId: "acct", kind: "run", workId: "run-a", unit: "credits", replicas: 1, attribution: AGENT, endpoint: "", idempotencyKey: "run-a", requestHash: "run-a" });
    const from = m.nowMs;
    m.ok({ type: "meter", accountId: "acct", workId: "run-a", fromMs: from, toMs: from, amountMicros: 0n, bucket: "compute", rateTableVersion: 1n, nextState: "paused", replicas: null, traceparent: "", traceId: "" });
    m.ok(m.authorize(10n, { attribution: AGENT, ttlMs: 500 }));
    m.nowMs += 1_000; // the hold has expired: it reserves nothing
    expect(m.ok({ type: "resumeWork", accountId: "acct", workId: "run-a" })).toMatchObject({ state: "running" });
  });

  it("a reversal gives back to each budget the charge it counted, never one made before the budget was set", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    const before = m.ok(m.charge(7n, { attribution: AGENT }));
    m.nowMs += 1;
    m.ok(m.setBudget(50n));
    m.ok(m.setBudget(20n, { scope: "task", scopeId: "t-1" }));
    const counted = m.ok(m.charge(30n, { attribution: { ...AGENT, task_id: "t-1" } })); // the task's hard budget lets it collect 20
    m.ok(m.charge(5n, { attribution: AGENT }));
    const budget = (id: string) => m.account.budgets.get(id)!.usedMicros;
    expect([budget("credits/agent/agent-1"), budget("credits/task/t-1")]).toEqual([25n, 20n]);
    const reverse = (entryId: bigint) => ({ type: "reverse" as const, accountId: "acct", entryId, reason: "refund", actor: "support", traceId: "", idempotencyKey: m.nextKey(), requestHash: `r${entryId}` });
    m.ok(reverse(counted.entryId));
    expect([budget("credits/agent/agent-1"), budget("credits/task/t-1")]).toEqual([5n, 0n]);
    m.ok(reverse(before.entryId)); // made before the agent's budget was set: it never counted it
    expect(budget("credits/agent/agent-1")).toBe(5n);
  });

  it("a soft budget never refuses and emits budget_crossed once per threshold", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    const set = m.ok(m.setBudget(100n, { mode: "soft" }));
    expect(set.thresholdPercents).toEqual([80, 100]);
    m.ok(m.charge(70n, { attribution: AGENT }));
    m.ok(m.charge(15n, { attribution: AGENT }));
    m.ok(m.charge(5n, { attribution: AGENT }));
    expect(m.ok(m.charge(50n, { attribution: AGENT }))).toMatchObject({ chargedMicros: 50n, proceed: true });
    m.ok(m.charge(50n, { attribution: AGENT }));
    const crossed = m.events.filter((e) => e.kind === "budget_crossed").map((e) => [e.payload.threshold_percent, e.payload.percent_used]);
    expect(crossed).toEqual([[80, 85], [100, 140]]);
  });

  it("a per-cycle budget counts from the cycle start: a new cycle starts it at 0 and its thresholds again", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(10n, { perCycle: true, thresholdPercents: [100] }));
    expect(m.ok(m.charge(15n, { attribution: AGENT }))).toMatchObject({ chargedMicros: 10n, proceed: false });
    m.ok(m.nextCycle());
    expect(m.ok(m.charge(4n, { attribution: AGENT }))).toMatchObject({ chargedMicros: 4n, proceed: true });
    expect(m.account.budgets.get("credits/agent/agent-1")!.usedMicros).toBe(4n);
    m.ok(m.charge(6n, { attribution: AGENT }));
    expect(m.events.filter((e) => e.kind === "budget_crossed")).toHaveLength(2);
  });

  it("a new cycle lifts a per-cycle budget the cycle before used up or warned about (its banners come down), and no other budget", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    const lifted = () => m.events.filter((e) => e.kind === "budget_lifted").map((e) => e.payload.budget_id);
    m.ok(m.setBudget(10n, { perCycle: true }));
    m.ok(m.setBudget(10n, { perCycle: true, scopeId: "agent-2" })); // used, not used up, no threshold crossed
    m.ok(m.setBudget(10n, { scopeId: "agent-3" })); // used up, but not per cycle: it still refuses
    m.ok(m.setBudget(10n, { perCycle: true, scopeId: "agent-4", mode: "soft" })); // soft: never refused, but warned at 80 and 100 %
    m.ok(m.setBudget(10n, { perCycle: true, scopeId: "agent-5", mode: "soft" })); // soft, under its first threshold: nothing to take down
    m.ok(m.setBudget(10n, { scopeId: "agent-6", mode: "soft" })); // warned, but not per cycle: its warnings still hold
    m.ok(m.charge(15n, { attribution: AGENT }));
    m.ok(m.charge(5n, { attribution: { agent_id: "agent-2" } }));
    m.ok(m.charge(15n, { attribution: { agent_id: "agent-3" } }));
    m.ok(m.charge(15n, { attribution: { agent_id: "agent-4" } }));
    m.ok(m.charge(5n, { attribution: { agent_id: "agent-5" } }));
    m.ok(m.charge(9n, { attribution: { agent_id: "agent-6" } }));
    expect(m.events.filter((e) => e.kind === "budget_crossed").map((e) => e.payload.budget_id)).toEqual(
      expect.arrayContaining(["credits/agent/agent-4", "credits/agent/agent-6"]),
    );
    m.ok(m.nextCycle());
    expect(lifted()).toEqual(["credits/agent/agent-1", "credits/agent/agent-4"]);
    m.ok(m.rollOver()); // the same cycle again: nothing new
    expect(lifted()).toHaveLength(2);
  });

  it("a budget changed by support keeps what it used; setting needs a reason, a scope id and a known unit", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(50n));
    m.ok(m.charge(30n, { attribution: AGENT }));
    expect(m.ok(m.setBudget(100n, { mode: "soft" }))).toMatchObject({ usedMicros: 30n, limitMicros: 100n, mode: "soft" });
    expect(m.run(m.setBudget(1n, { reason: "" }))[0]).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", field: "reason" } });
    expect(m.run(m.setBudget(1n, { scopeId: "" }))[0]).toMatchObject({ ok: false, error: { field: "scope_id" } });
    expect(m.run(m.setBudget(-1n))[0]).toMatchObject({ ok: false, error: { field: "limit_micros" } });
    expect(m.run(m.setBudget(1n, { unit: "usd" }))[0]).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("a budget support removes stops counting and denying; a repeated removal answers as the first, an unknown one is NOT_FOUND", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    m.ok(m.setBudget(50n));
    m.ok(m.charge(30n, { attribution: AGENT }));
    expect(m.ok(m.authorize(40n, { attribution: AGENT }))).toMatchObject({ allowed: false, reason: "BUDGET_EXCEEDED" });
    const held = m.ok(m.authorize(10n, { attribution: AGENT }));
    const removal = m.deleteBudget("credits/agent/agent-1", { idempotencyKey: "remove-1" });
    expect(m.ok(removal)).toMatchObject({ budgetId: "credits/agent/agent-1", usedMicros: 30n, reservedMicros: 10n, limitMicros: 50n });
    expect(m.account.budgets.has("credits/agent/agent-1")).toBe(false);
    expect(m.ok(m.authorize(400n, { attribution: AGENT })).allowed).toBe(true);
    expect(m.ok(m.charge(100n, { holdId: held.holdId!, attribution: {} }))).toMatchObject({ chargedMicros: 100n, proceed: true });
    // The same key again: the first answer, not NOT_FOUND; a new key on the removed budget: NOT_FOUND.
    expect(m.run(removal)[0]).toMatchObject({ ok: true, replayed: true, value: { usedMicros: 30n } });
    expect(m.run(m.deleteBudget("credits/agent/agent-1"))[0]).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(m.run(m.deleteBudget("credits/agent/agent-1", { reason: "" }))[0]).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", field: "reason" } });
    // Set again, it is a new budget: nothing used.
    expect(m.ok(m.setBudget(50n))).toMatchObject({ usedMicros: 0n });
  });

  it("emits budget_lifted when a budget stops refusing: removed, or a used-up hard one raised or softened; not for a change that still refuses", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    const lifted = () => m.events.filter((e) => e.kind === "budget_lifted").map((e) => e.payload);
    m.ok(m.setBudget(50n));
    m.ok(m.setBudget(60n)); // not used up: nothing was refused
    m.ok(m.charge(60n, { attribution: AGENT }));
    m.ok(m.setBudget(40n)); // used up before and after
    expect(lifted()).toEqual([]);
    m.ok(m.setBudget(100n));
    expect(lifted()).toEqual([{ budget_id: "credits/agent/agent-1", unit: "credits", scope: "agent", scope_id: "agent-1", removed: false }]);
    m.ok(m.setBudget(100n, { scopeId: "agent-2" }));
    m.ok(m.deleteBudget("credits/agent/agent-2"));
    expect(lifted().at(-1)).toMatchObject({ budget_id: "credits/agent/agent-2", removed: true });
  });

  it("a reversal that gives a used-up hard budget room again lifts it; the event continues the support call's trace", () => {
    const m = Machine.open({ allotmentMicros: 1_000n });
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const reverse = (entryId: bigint) => ({ type: "reverse" as const, accountId: "acct", entryId, reason: "refund", actor: "support", traceId: "", traceparent, idempotencyKey: m.nextKey(), requestHash: `r${entryId}` });
    const liftedEvents = () => m.events.filter((e) => e.kind === "budget_lifted");
    m.ok(m.setBudget(50n, { thresholdPercents: [100] }));
    const small = m.ok(m.charge(20n, { attribution: AGENT }));
    const large = m.ok(m.charge(30n, { attribution: AGENT }));
    m.ok(m.charge(5n, { attribution: AGENT })); // nothing left of the limit: collects nothing
    m.ok(reverse(small.entryId));
    expect(liftedEvents()).toEqual([{ accountId: "acct", kind: "budget_lifted", traceparent, payload: { budget_id: "credits/agent/agent-1", unit: "credits", scope: "agent", scope_id: "agent-1", removed: false } }]);
    // Used up again, its 100 % is crossed again (its banner came down with the lift).
    m.ok(m.charge(20n, { attribution: AGENT }));
    expect(m.events.filter((e) => e.kind === "budget_crossed").map((e) => e.payload.threshold_percent)).toEqual([100, 100]);
    m.ok(reverse(large.entryId)); // lifted again: 30 of 50 used
    expect(liftedEvents()).toHaveLength(2);
    m.ok(m.setBudget(50n, { scopeId: "agent-2", traceparent }));
    m.ok(m.deleteBudget("credits/agent/agent-2", { traceparent }));
    expect(liftedEvents().at(-1)).toMatchObject({ traceparent, payload: { budget_id: "credits/agent/agent-2", removed: true } });
  });
});
