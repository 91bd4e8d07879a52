import type { AccountView } from "../account-view.js";
import type { MeterAnswer, MeterCommand } from "../commands.js";
import { requireAccountId, run, type LedgerDeps } from "./run.js";

/**
 * A tick as the caller prices it: `fromMs` is the work's `charged_until` as
 * read (a tick that lost a race to another does nothing), the amount is the
 * price of whole seconds of the work's usage up to `toMs`.
 */
export type MeterRequest = Omit<MeterCommand, "type">;

/** Charges a run's or deployment's time up to `toMs`, moves it to its next state, and stops it at the negative limit. */
export async function meter(deps: LedgerDeps, view: AccountView, request: MeterRequest): Promise<MeterAnswer> {
  requireAccountId(request.accountId);
  return run(deps, view, { type: "meter", ...request });
}
