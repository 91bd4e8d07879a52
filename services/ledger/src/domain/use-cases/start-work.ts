import type { Usage } from "@tollgate/rating";
import type { StartWorkAnswer } from "../commands.js";
import { fingerprint } from "../fingerprint.js";
import type { WorkKind } from "../state.js";
import { price, requireAccountId, run, type LedgerDeps } from "./run.js";

export interface StartWorkRequest {
  kind: WorkKind;
  accountId: string;
  workId: string;
  /** What one second of the work is (a run's active time, a deployment's hardware per replica). */
  usagePerSecond: Usage;
  replicas: number;
  attribution: Record<string, string>;
  endpoint: string;
  idempotencyKey: string;
  /** The kind of work (empty: none); its limits apply. */
  workKind?: string;
}

/** Starts a run or a deployment: refused when suspended, when nothing is left, or (deployments) below the low-credit limit. */
export async function startWork(deps: LedgerDeps, request: StartWorkRequest): Promise<StartWorkAnswer> {
  requireAccountId(request.accountId);
  const view = await deps.accounts.get(request.accountId);
  const priced = await price(deps, view, request.usagePerSecond, request.kind === "run" ? "run" : "hardware");
  return run(deps, view, {
    type: "startWork", kind: request.kind, accountId: request.accountId, workId: request.workId, unit: priced.unit, replicas: request.replicas,
    attribution: request.attribution, endpoint: request.endpoint, idempotencyKey: request.idempotencyKey, ...(request.workKind ? { workKind: request.workKind } : {}),
    requestHash: fingerprint({ op: `start_${request.kind}`, ...request }),
  });
}
