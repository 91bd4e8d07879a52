import { describe, expect, it } from "vitest";
import { limitsFor, newWork, stopsRunningWork, type KindLimits } from "./kind-limits.js";

const CREDIT = 1_000_000n;
const unit = { lowCreditLimitMicros: 10n * CREDIT, negativeLimitMicros: 20n * CREDIT };
const kinds: KindLimits[] = [
  { unit: "credits", workKind: "guardrail", lowCreditLimitMicros: 5n * CREDIT, negativeLimitMicros: 10n * CREDIT, draftsAtZero: false, stopMessage: "guardrail stopped" },
  { unit: "credits", workKind: "custom_script", lowCreditLimitMicros: 0n, negativeLimitMicros: 5n * CREDIT, draftsAtZero: true, stopMessage: "" },
];

describe("limits per kind of work", () => {
  it("takes the kind's own row in its unit, else the unit's", () => {
    expect(limitsFor(unit, kinds, "credits", "guardrail")).toMatchObject({ own: true, lowCreditLimitMicros: 5n * CREDIT, negativeLimitMicros: 10n * CREDIT, stopMessage: "guardrail stopped" });
    expect(limitsFor(unit, kinds, "credits", "model_hosting")).toMatchObject({ own: false, lowCreditLimitMicros: 10n * CREDIT, negativeLimitMicros: 20n * CREDIT, draftsAtZero: false });
    expect(limitsFor(unit, kinds, "tool_runs", "guardrail").own).toBe(false);
    expect(limitsFor(unit, kinds, "credits", "").own).toBe(false);
    expect(limitsFor(undefined, undefined, "credits", "guardrail")).toMatchObject({ own: false, lowCreditLimitMicros: 0n, negativeLimitMicros: 0n });
  });

  it("refuses new work of a kind below its low-credit limit, whatever the work", () => {
    const guardrail = limitsFor(unit, kinds, "credits", "guardrail");
    expect(newWork({ work: "deployment", limits: guardrail, availableMicros: 5n * CREDIT })).toEqual({ fits: true, denial: "INSUFFICIENT_CREDITS", minimumMicros: 5n * CREDIT, draftsOnly: false });
    expect(newWork({ work: "deployment", limits: guardrail, availableMicros: 5n * CREDIT - 1n })).toMatchObject({ fits: false, denial: "BELOW_LOW_CREDIT_LIMIT" });
    // A hold of the kind: the low-credit limit first, then the estimate must fit.
    expect(newWork({ work: "hold", limits: guardrail, availableMicros: 4n * CREDIT, amountMicros: 1n })).toMatchObject({ fits: false, denial: "BELOW_LOW_CREDIT_LIMIT" });
    expect(newWork({ work: "hold", limits: guardrail, availableMicros: 6n * CREDIT, amountMicros: 7n * CREDIT })).toMatchObject({ fits: false, denial: "INSUFFICIENT_CREDITS", minimumMicros: 7n * CREDIT });
    expect(newWork({ work: "run", limits: guardrail, availableMicros: 6n * CREDIT }).fits).toBe(true);
  });

  it("needs something left for a kind without a low-credit limit, and says drafts only at zero when the kind allows drafts", () => {
    const script = limitsFor(unit, kinds, "credits", "custom_script");
    expect(newWork({ work: "deployment", limits: script, availableMicros: 1n })).toMatchObject({ fits: true, minimumMicros: 1n });
    expect(newWork({ work: "deployment", limits: script, availableMicros: 0n })).toEqual({ fits: false, denial: "INSUFFICIENT_CREDITS", minimumMicros: 1n, draftsOnly: true });
    expect(newWork({ work: "deployment", limits: script, availableMicros: -3n * CREDIT }).draftsOnly).toBe(true);
    // Guardrails have no drafts: refused at zero, nothing more.
    expect(newWork({ work: "deployment", limits: limitsFor(unit, kinds, "credits", "guardrail"), availableMicros: 0n }).draftsOnly).toBe(false);
  });

  it("keeps the unit's rule for work of no kind: deployments need the low-credit limit, runs something left, holds their estimate", () => {
    const none = limitsFor(unit, kinds, "credits", "");
    expect(newWork({ work: "deployment", limits: none, availableMicros: 9n * CREDIT })).toMatchObject({ fits: false, denial: "BELOW_LOW_CREDIT_LIMIT" });
    expect(newWork({ work: "run", limits: none, availableMicros: 1n })).toMatchObject({ fits: true, denial: "INSUFFICIENT_CREDITS" });
    expect(newWork({ work: "hold", limits: none, availableMicros: 1n, amountMicros: 1n }).fits).toBe(true);
    expect(newWork({ work: "hold", limits: none, availableMicros: 1n, amountMicros: 2n }).fits).toBe(false);
  });

  it("stops running work of a kind at −its negative limit, not before", () => {
    const guardrail = limitsFor(unit, kinds, "credits", "guardrail");
    expect(stopsRunningWork(guardrail, -10n * CREDIT + 1n)).toBe(false);
    expect(stopsRunningWork(guardrail, -10n * CREDIT)).toBe(true);
    expect(stopsRunningWork(limitsFor(unit, kinds, "credits", "custom_script"), -5n * CREDIT)).toBe(true);
    // Work under the unit's limits is stopped by the charge itself (proceed false), not here.
    expect(stopsRunningWork(limitsFor(unit, kinds, "credits", "model_hosting"), -100n * CREDIT)).toBe(false);
  });
});
