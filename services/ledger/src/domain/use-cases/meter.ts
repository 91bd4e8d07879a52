import type { MeterAnswer, MeterCommand } from "../commands.js";
import { requireAccountId, run, type LedgerDeps } from "./run.js";

/**
 * A tick as the caller prices it: `fromMs` is the work's `charged_until` as
 * read (a tick that lost a race to another does nothing), the amount is the
 * price of whole seconds of the work's usage up to `toMs`.
 */
export type MeterRequest = Omit<MeterCommand, "type">;

/** Charges a run's or deployment's time up to `toMs` and stops it at the negative limit. */
export async function meter(deps: LedgerDeps, request: MeterRequest): Promise<MeterAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  return run(deps, view, { type: "meter", ...request });
}
