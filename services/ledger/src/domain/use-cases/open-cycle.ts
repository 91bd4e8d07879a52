import type { AccountView } from "../account-view.js";
import { cycleAt } from "../cycle.js";
import { fingerprint } from "../fingerprint.js";
import { rollOver } from "./roll-over.js";
import { requireAccountId, type LedgerDeps } from "./run.js";

/** Which cycle a call runs in, with the terms it opens with, and the unit the plan does not name that it opens a balance for ("": none). */
export interface CycleKey {
  accountId: string;
  terms: string;
  unit: string;
}

/**
 * The cycles this process has seen opened (committed), each with the terms
 * it was opened with: a call in a cycle known open leaves out its rollOver
 * command, which would write nothing. Anything that changes what a cycle
 * opens with (plan version, limits, a spend cap, sign-up grants), a new cycle
 * or a unit the plan does not name makes another key, so that call opens it
 * again. Only an account's latest terms are remembered: terms that change and
 * change back (a limit raised, then lowered again) open the cycle again and
 * write them, rather than finding them open from before the change. Another
 * replica's openings are not known here: its first call rolls over
 * idempotently, as before.
 */
export class OpenCycles {
  /** Per account: the terms (cycle and hash) last opened, and the units opened with them. */
  private readonly opened = new Map<string, { terms: string; units: Set<string> }>();
  /** What a cycle opens with, hashed once per account view. */
  private readonly terms = new WeakMap<AccountView, string>();

  /** `unit`: the call's unit; one the plan does not name gets a balance (no allotment, limits at zero) when its cycle opens, so it keys apart. */
  key(view: AccountView, now: Date, unit: string | null): CycleKey {
    let terms = this.terms.get(view);
    if (terms === undefined) this.terms.set(view, (terms = fingerprint({ planVersion: view.planVersion, units: view.units, signupGrants: view.signupGrants })));
    const extra = unit !== null && !view.units.some((u) => u.unit === unit) ? unit : "";
    return { accountId: view.accountId, terms: `${cycleAt(view.cycleAnchor, now).start.getTime()}:${terms}`, unit: extra };
  }

  isOpen(key: CycleKey): boolean {
    const opened = this.opened.get(key.accountId);
    return opened !== undefined && opened.terms === key.terms && opened.units.has(key.unit);
  }

  /** Told once the transaction that opened (or found open) the cycle has committed; the account's earlier terms are forgotten. */
  remember(key: CycleKey): void {
    let opened = this.opened.get(key.accountId);
    if (opened === undefined || opened.terms !== key.terms) {
      // Bounded: forgetting costs one idempotent rollOver per account, so the map simply starts again when full.
      if (opened === undefined && this.opened.size >= OpenCycles.MAX_KEYS) this.opened.clear();
      opened = { terms: key.terms, units: new Set() };
      this.opened.set(key.accountId, opened);
    }
    opened.units.add(key.unit);
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
