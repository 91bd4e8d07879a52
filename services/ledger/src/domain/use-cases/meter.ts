import type { MeterAnswer } from "../commands.js";
import { requireAccountId, run, type LedgerDeps } from "./run.js";

export interface MeterRequest {
  accountId: string;
  workId: string;
  /** The work's `charged_until` as read; a tick that lost a race to another does nothing. */
  fromMs: number;
  toMs: number;
  /** The interval's price (the caller prices whole seconds of the work's usage). */
  amountMicros: bigint;
  bucket: string;
  rateTableVersion: bigint;
  nextState: string | null;
  replicas: number | null;
  traceparent: string;
  traceId: string;
}

/** Charges a run's or deployment's time up to `toMs` and stops it at the negative limit. */
export async function meter(deps: LedgerDeps, request: MeterRequest): Promise<MeterAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  return run(deps, view, { type: "meter", ...request });
}
