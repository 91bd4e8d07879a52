import { cycleAt } from "../cycle.js";
import { fingerprint } from "../fingerprint.js";
import { rollOver } from "./roll-over.js";
import type { LedgerDeps } from "./run.js";

/**
 * For reads that show an account's cycle (GetBalance): opens the current
 * cycle, or rolls into it, once per cycle and plan terms, remembering what it
 * opened — so a read is a write only when there is something to open. Every
 * write opens the cycle in its own transaction anyway.
 */
export class CycleOpener {
  private readonly opened = new Set<string>();

  constructor(private readonly deps: LedgerDeps) {}

  async open(accountId: string): Promise<void> {
    const view = await this.deps.accounts.get(accountId);
    const terms = fingerprint({ planVersion: view.planVersion, units: view.units, signupGrants: view.signupGrants });
    const key = `${accountId}:${cycleAt(view.cycleAnchor, this.deps.now()).start.getTime()}:${terms}`;
    if (this.opened.has(key)) return;
    await rollOver(this.deps, accountId);
    this.opened.add(key);
  }
}
