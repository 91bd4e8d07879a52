import type { AccountView } from "../account-view.js";
import { cycleAt } from "../cycle.js";
import { rollOver } from "./roll-over.js";
import { requireAccountId, type LedgerDeps } from "./run.js";

/** Which cycle a call runs in, opened with which view of the account, and the unit the plan does not name that it opens a balance for ("": none). */
export interface CycleKey {
  accountId: string;
  opening: string;
  unit: string;
}

/**
 * The cycles this process has seen opened (committed), each with the view of
 * the account it was opened with: a call in a cycle known open leaves out
 * its rollOver command, which would write nothing. A new cycle, a unit the
 * plan does not name, or any change the account feed brings (a new view:
 * plan version, limits, a spend cap, sign-up grants…) makes another key, so
 * that call opens it again. Only the account's latest view is remembered:
 * terms that change and change back open the cycle again and write them,
 * also when another replica wrote the terms between (a limit raised there
 * and taken back). Another replica's openings are not known here: its first
 * call rolls over idempotently, as before.
 */
export class OpenCycles {
  /** Per account: the opening (cycle and view) last opened, and the units opened with it. */
  private readonly opened = new Map<string, { opening: string; units: Set<string> }>();
  /** A number per account view, so a remembered opening holds no view in memory. */
  private readonly views = new WeakMap<AccountView, number>();
  private nextView = 0;

  /** `unit`: the call's unit; one the plan does not name gets a balance (no allotment, limits at zero) when its cycle opens, so it keys apart. */
  key(view: AccountView, now: Date, unit: string | null): CycleKey {
    let id = this.views.get(view);
    if (id === undefined) this.views.set(view, (id = ++this.nextView));
    const extra = unit !== null && !view.units.some((u) => u.unit === unit) ? unit : "";
    return { accountId: view.accountId, opening: `${cycleAt(view.cycleAnchor, now).start.getTime()}:${id}`, unit: extra };
  }

  isOpen(key: CycleKey): boolean {
    const opened = this.opened.get(key.accountId);
    return opened !== undefined && opened.opening === key.opening && opened.units.has(key.unit);
  }

  /** Told once the transaction that opened (or found open) the cycle has committed; the account's earlier openings are forgotten. */
  remember(key: CycleKey): void {
    let opened = this.opened.get(key.accountId);
    if (opened === undefined || opened.opening !== key.opening) {
      // Bounded: forgetting costs one idempotent rollOver per account, so the map simply starts again when full.
      if (opened === undefined && this.opened.size >= OpenCycles.MAX_KEYS) this.opened.clear();
      opened = { opening: key.opening, units: new Set() };
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
