import type { AccountView } from "../account-view.js";
import { cycleAt } from "../cycle.js";
import { fingerprint } from "../fingerprint.js";
import { rollOver } from "./roll-over.js";
import { requireAccountId, type LedgerDeps } from "./run.js";

/**
 * For calls that do not open the cycle in their own transaction (GetBalance,
 * starting metered work): opens the current
 * cycle, or rolls into it, once per cycle and plan terms, remembering what it
 * opened — so a read is a write only when there is something to open. Every
 * write opens the cycle in its own transaction anyway.
 */
export class CycleOpener {
  private readonly opened = new Set<string>();

  constructor(private readonly deps: LedgerDeps) {}

  /** What a cycle opens with (plan version, units, sign-up grants), hashed once per account view. */
  private readonly terms = new WeakMap<AccountView, string>();

  /** `unit`: one the plan may not name, which gets a balance with no allotment and its limits at zero. */
  async open(accountId: string, unit: string | null = null): Promise<void> {
    requireAccountId(accountId);
    const view = await this.deps.accounts.get(accountId);
    let terms = this.terms.get(view);
    if (terms === undefined) this.terms.set(view, (terms = fingerprint({ planVersion: view.planVersion, units: view.units, signupGrants: view.signupGrants })));
    // Anything that changes what a cycle opens with (plan version, limits, a spend cap) opens it again.
    const key = `${accountId}:${cycleAt(view.cycleAnchor, this.deps.now()).start.getTime()}:${terms}:${unit ?? ""}`;
    if (this.opened.has(key)) return;
    await rollOver(this.deps, accountId, unit);
    this.opened.add(key);
  }
}
