import { ledgerV1 } from "@tollgate/proto";
import { attributionOf, contextOf, denied, workKindOf, type Attribution, type CallOptions, type RunContext, type TollgateClient, type WorkKind } from "./client.js";
import { stepKey, uuidv7 } from "./keys.js";
import type { Stop } from "./meter.js";

export interface RunOptions {
  accountId: string;
  /** The run's id (generated, UUIDv7, when unset); starting the same run id again answers what the first start answered. */
  runId?: string;
  attribution?: Attribution;
  /** Descriptive labels shown with the run, never priced (at most 20). */
  labels?: Record<string, string>;
  context?: RunContext;
  /** The kind of work (an agent run when unset): the plan's limits for it apply. */
  workKind?: WorkKind;
  /**
   * How often to ask the ledger whether it stopped the run (the balance ran
   * out while the ledger charged its active time): 5 s; 0 never asks.
   */
  watchIntervalMs?: number;
  callOptions?: CallOptions;
}

export type RunEnd = "finished" | "failed" | "cancelled";

const END_STATES: Record<RunEnd, ledgerV1.RunEndState> = {
  finished: ledgerV1.RunEndState.RUN_END_STATE_FINISHED,
  failed: ledgerV1.RunEndState.RUN_END_STATE_FAILED,
  cancelled: ledgerV1.RunEndState.RUN_END_STATE_CANCELLED,
};

/**
 * Metered time: the ledger charges the run's active time as it goes and
 * stops it when the balance runs out. `pause` stops the clock (waiting for a
 * person is free), `resume` starts it again (false: the run may not go on),
 * `end` settles it. `signal` aborts and `stopped` resolves when the ledger
 * stopped the run (found by watching it) or a resume was refused.
 */
export class Run {
  /** Aborted, with the Stop as its reason, when the run must stop. */
  readonly signal: AbortSignal;
  /** Resolves with the first Stop; never rejects. */
  readonly stopped: Promise<Stop>;
  private readonly controller = new AbortController();
  private resolveStopped!: (stop: Stop) => void;
  private readonly watch: ReturnType<typeof setInterval> | undefined;
  private ending: Promise<{ totalChargedMicros: bigint; activeSeconds: bigint }> | undefined;

  constructor(
    private readonly client: TollgateClient,
    private readonly options: RunOptions & { runId: string },
    /** False when the run's time is recorded but never charged (work the plan does not meter where it runs). */
    readonly metered: boolean,
  ) {
    this.signal = this.controller.signal;
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    const every = options.watchIntervalMs ?? 5_000;
    if (every > 0 && metered) {
      this.watch = setInterval(() => void this.check().catch(() => undefined), every);
      this.watch.unref();
    }
  }

  get runId(): string {
    return this.options.runId;
  }

  /** Stops the clock; answers what this pause charged (the active time since the last charge). */
  async pause(): Promise<bigint> {
    const answer = await this.client.call(this.client.ledger.pauseRun, { accountId: this.options.accountId, runId: this.runId, idempotencyKey: stepKey(this.runId, `pause/${uuidv7()}`) }, this.options.callOptions);
    return BigInt(answer.chargedThisCallMicros || "0");
  }

  /** Starts the clock again; false (and a stop) when the ledger has stopped the run. */
  async resume(): Promise<boolean> {
    const answer = await this.client.call(this.client.ledger.resumeRun, { accountId: this.options.accountId, runId: this.runId, idempotencyKey: stepKey(this.runId, `resume/${uuidv7()}`) }, this.options.callOptions);
    if (!answer.proceed) this.stop({ reason: "LIMIT_REACHED", message: `run ${this.runId} was stopped by the ledger` });
    return answer.proceed;
  }

  /** Settles the run: its total charge and active seconds. Calling it again answers the same. */
  end(state: RunEnd = "finished"): Promise<{ totalChargedMicros: bigint; activeSeconds: bigint }> {
    this.ending ??= this.client
      .call(this.client.ledger.endRun, { accountId: this.options.accountId, runId: this.runId, state: END_STATES[state], idempotencyKey: stepKey(this.runId, "end") }, this.options.callOptions)
      .then((answer) => ({ totalChargedMicros: BigInt(answer.totalChargedMicros || "0"), activeSeconds: BigInt(answer.activeSeconds || "0") }));
    return this.ending.finally(() => this.stop({ reason: "CLOSED", message: `run ${this.runId} ended` }));
  }

  /** Asks the ledger whether it stopped the run; true when it did (and the run is stopped here too). */
  async check(): Promise<boolean> {
    if (this.signal.aborted) return true;
    // This run's row only: among the account's stopped runs it could be past any first page.
    const answer = await this.client.call(this.client.ledger.listMeteredWork, {
      accountId: this.options.accountId,
      kind: "run",
      state: "stopped",
      workId: this.runId,
      page: { pageSize: 100, pageToken: "" },
    });
    const work = answer.work.find((w) => w.workId === this.runId);
    if (!work) return false;
    this.stop({ reason: "LIMIT_REACHED", message: work.stopReason || `run ${this.runId} was stopped by the ledger` });
    return true;
  }

  private stop(stop: Stop) {
    if (this.watch) clearInterval(this.watch);
    if (this.controller.signal.aborted) return;
    this.controller.abort(stop);
    this.resolveStopped(stop);
  }
}

export async function startRun(client: TollgateClient, options: RunOptions): Promise<Run> {
  const runId = options.runId ?? uuidv7();
  const answer = await client.call(
    client.ledger.startRun,
    {
      accountId: options.accountId,
      runId,
      attribution: attributionOf(options.attribution),
      idempotencyKey: stepKey(runId, "start"),
      labels: options.labels ?? {},
      context: contextOf(options.context),
      workKind: workKindOf(options.workKind),
    },
    options.callOptions,
  );
  if (!answer.allowed) throw denied(answer.reason, answer.message, "0", answer.draftsOnly);
  return new Run(client, { ...options, runId }, answer.metered);
}
