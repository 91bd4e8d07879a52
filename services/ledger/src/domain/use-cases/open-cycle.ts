import type { AccountView } from "../account-view.js";
import { cycleAt } from "../cycle.js";
import { fingerprint } from "../fingerprint.js";
import { rollOver } from "./roll-over.js";
import { requireAccountId, type LedgerDeps } from "./run.js";

/**
 * The cycles this process has seen opened (committed), each with the terms
 * it was opened with: a call in a cycle known open leaves out its rollOver
 * command, which would write nothing. Anything that changes what a cycle
 * opens with (plan version, limits, a spend cap, sign-up grants), a new cycle
 * or a unit the plan does not name makes another key, so that call opens it
 * again. Another replica's openings are not known here: its first call
 * rolls over idempotently, as before.
 */
export class OpenCycles {
  private readonly opened = new Set<string>();
  /** What a cycle opens with, hashed once per account view. */
  private readonly terms = new WeakMap<AccountView, string>();

  /** `unit`: the call's unit; one the plan does not name gets a balance (no allotment, limits at zero) when its cycle opens, so it keys apart. */
  key(view: AccountView, now: Date, unit: string | null): string {
    let terms = this.terms.get(view);
    if (terms === undefined) this.terms.set(view, (terms = fingerprint({ planVersion: view.planVersion, units: view.units, signupGrants: view.signupGrants })));
    const extra = unit !== null && !view.units.some((u) => u.unit === unit) ? unit : "";
    return `${view.accountId}:${cycleAt(view.cycleAnchor, now).start.getTime()}:${terms}:${extra}`;
  }

  isOpen(key: string): boolean {
    return this.opened.has(key);
  }

  /** Told once the transaction that opened (or found open) the cycle has committed. */
  remember(key: string): void {
    // Bounded: forgetting costs one idempotent rollOver per account, so the set simply starts again when full.
    if (this.opened.size >= OpenCycles.MAX_KEYS) this.opened.clear();
    this.opened.add(key);
  }

  static readonly MAX_KEYS = 200_000;
}

/**
 * For calls that do not open the cycle in their own transaction (GetBalance,
 * starting metered work): opens the current cycle, or rolls into it, once per
 * cycle and plan terms — so a read is a write only when there is something to
 * open. Every write opens the cycle in its own transaction unless it is known
 * open (see {@link OpenCycles}).
 */
export class CycleOpener {
  private readonly cycles: OpenCycles;

  constructor(private readonly deps: LedgerDeps) {
    this.cycles = deps.cycles ?? new OpenCycles();
  }

  /** `unit`: one the plan may not name, which gets a balance with no allotment and its limits at zero. */
  async open(accountId: string, unit: string | null = null): Promise<void> {
    requireAccountId(accountId);
    const view = await this.deps.accounts.get(accountId);
    const key = this.cycles.key(view, this.deps.now(), unit);
    if (this.cycles.isOpen(key)) return;
    await rollOver(this.deps, accountId, unit);
    this.cycles.remember(key);
  }
}
