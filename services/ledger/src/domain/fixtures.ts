/**
 * Test fixtures for the state machine: a synchronous ledger that keeps the
 * state, the journal and the outbox between batches, and command builders
 * with sensible defaults. Used by the rules' tests and the property tests.
 */
import type { AdjustCommand, AnswerOf, AuthorizeCommand, ChargeCommand, Command, ExtendHoldCommand, GrantCommand, ReleaseCommand, Result, RollOverCommand, SetBudgetCommand, UnitSetup, DeleteBudgetCommand } from "./commands.js";
import { execute, type BatchOutcome } from "./state-machine.js";
import { emptyAccount, type AccountFacts, type AccountState, type Ids, type LedgerState, type Pool, type Trace } from "./state.js";
import type { Entry, OutboxEvent } from "./writes.js";

export const DAY_MS = 86_400_000;
export const CYCLE_MS = 30 * DAY_MS;

export function pool(fields: Partial<Pool> & Pick<Pool, "poolId">): Pool {
  return {
    accountId: "acct", unit: "credits", kind: "bonus", priority: 0, expiresAtMs: null, createdAtMs: 0, balanceMicros: 0n, grantedMicros: 0n,
    closed: false, grantKey: `key:${fields.poolId}`, reload: null, reloadedAtMs: null, ...fields,
  };
}

export interface Setup {
  accountId: string;
  allotmentMicros: bigint;
  negativeLimitMicros: bigint;
  lowCreditLimitMicros: bigint;
  facts: Partial<AccountFacts>;
  startMs: number;
}

export class Machine {
  state: LedgerState = new Map();
  nowMs: number;
  readonly entries: Entry[] = [];
  readonly events: OutboxEvent[] = [];
  last: BatchOutcome | undefined;
  cycleStartMs: number;
  /** The trace the batches are decided in (BatchContext.trace); unset: none. */
  trace: Trace | undefined;
  private nextEntry = 1n;
  private nextId = 1;
  readonly ids: Ids = {
    entryId: () => this.nextEntry++,
    holdId: () => `hold-${String(this.nextId++).padStart(9, "0")}`,
    poolId: () => `pool-${String(this.nextId++).padStart(9, "0")}`,
  };
  private key = 0;

  constructor(readonly setup: Setup) {
    this.nowMs = setup.startMs;
    this.cycleStartMs = setup.startMs;
    this.state.set(setup.accountId, emptyAccount(setup.accountId, setup.facts));
    const opened = this.run(this.rollOver());
    if (!opened[0]!.ok) throw new Error(JSON.stringify(opened[0]));
  }

  static open(setup: Partial<Setup> = {}): Machine {
    return new Machine({ accountId: "acct", allotmentMicros: 100n, negativeLimitMicros: 25n, lowCreditLimitMicros: 0n, facts: {}, startMs: 1_000_000, ...setup });
  }

  get account(): AccountState {
    return this.state.get(this.setup.accountId)!;
  }

  run(...commands: Command[]): Result<unknown>[] {
    const batch = execute(this.state, commands, { nowMs: this.nowMs, ids: this.ids, ...(this.trace ? { trace: this.trace } : {}) });
    this.last = batch;
    this.state = batch.state;
    for (const write of batch.writes) {
      if (write.type === "entry") this.entries.push(write.entry);
      if (write.type === "outbox") this.events.push(write.event);
    }
    return batch.outcomes.map((o) => o.result);
  }

  /** Runs one command and returns its answer, failing the test on a refusal. */
  ok<C extends Command>(command: C): AnswerOf[C["type"]] {
    const [result] = this.run(command);
    if (!result!.ok) throw new Error(`${command.type} refused: ${result!.error.reason} ${result!.error.message}`);
    return result!.value as AnswerOf[C["type"]];
  }

  nextKey(): string {
    return `k${++this.key}`;
  }

  units(): UnitSetup[] {
    return [{ unit: "credits", allotmentMicros: this.setup.allotmentMicros, negativeLimitMicros: this.setup.negativeLimitMicros, lowCreditLimitMicros: this.setup.lowCreditLimitMicros, kind: "monthly" }];
  }

  rollOver(fields: Partial<RollOverCommand> = {}): RollOverCommand {
    return { type: "rollOver", accountId: this.setup.accountId, planId: "plan", planVersion: 1n, cycleStartMs: this.cycleStartMs, cycleEndMs: this.cycleStartMs + CYCLE_MS, units: this.units(), signupGrants: [], ...fields };
  }

  /** Moves to the next cycle and rolls the account over. */
  nextCycle(): RollOverCommand {
    this.cycleStartMs += CYCLE_MS;
    if (this.nowMs < this.cycleStartMs) this.nowMs = this.cycleStartMs;
    return this.rollOver();
  }

  authorize(amountMicros: bigint, fields: Partial<AuthorizeCommand> = {}): AuthorizeCommand {
    const key = fields.idempotencyKey ?? this.nextKey();
    return {
      type: "authorize", accountId: this.setup.accountId, unit: "credits", bucket: "ai", amountMicros, idempotencyKey: key, requestHash: `authorize:${amountMicros}:${fields.ttlMs ?? 60_000}`,
      ttlMs: 60_000, attribution: {}, rateTableVersion: 1n, eligibility: { allowed: true, metered: true, reason: "" }, ...fields,
    };
  }

  charge(amountMicros: bigint, fields: Partial<ChargeCommand> = {}): ChargeCommand {
    const key = fields.idempotencyKey ?? this.nextKey();
    return {
      type: "charge", accountId: this.setup.accountId, holdId: null, unit: "credits", bucket: "ai", amountMicros, final: true, idempotencyKey: key,
      requestHash: `charge:${fields.holdId ?? ""}:${amountMicros}:${fields.final ?? true}`, attribution: {}, rateTableVersion: 1n, traceparent: "", traceId: "", ...fields,
    };
  }

  release(holdId: string, fields: Partial<ReleaseCommand> = {}): ReleaseCommand {
    return { type: "release", accountId: this.setup.accountId, holdId, idempotencyKey: fields.idempotencyKey ?? this.nextKey(), requestHash: `release:${holdId}`, ...fields };
  }

  extendHold(holdId: string, addMicros: bigint, ttlMs: number, fields: Partial<ExtendHoldCommand> = {}): ExtendHoldCommand {
    return {
      type: "extendHold", accountId: this.setup.accountId, holdId, unit: "credits", addMicros, ttlMs,
      idempotencyKey: fields.idempotencyKey ?? this.nextKey(), requestHash: `extend:${holdId}:${addMicros}:${ttlMs}`, ...fields,
    };
  }

  grant(amountMicros: bigint, fields: Partial<GrantCommand> = {}): GrantCommand {
    return {
      type: "grant", accountId: this.setup.accountId, unit: "credits", kind: "bonus", amountMicros, expiresAtMs: null, priority: 0, reason: "test", actor: "tester",
      idempotencyKey: fields.idempotencyKey ?? this.nextKey(), requestHash: `grant:${amountMicros}:${fields.kind ?? "bonus"}:${fields.expiresAtMs ?? ""}:${fields.priority ?? 0}`, traceId: "", reload: null, ...fields,
    };
  }

  adjust(poolId: string, amountMicros: bigint, fields: Partial<AdjustCommand> = {}): AdjustCommand {
    return {
      type: "adjust", accountId: this.setup.accountId, poolId, amountMicros, reason: "correction", actor: "support",
      idempotencyKey: fields.idempotencyKey ?? this.nextKey(), requestHash: `adjust:${poolId}:${amountMicros}`, traceId: "", ...fields,
    };
  }

  setBudget(limitMicros: bigint, fields: Partial<SetBudgetCommand> = {}): SetBudgetCommand {
    return {
      type: "setBudget", accountId: this.setup.accountId, unit: "credits", scope: "agent", scopeId: "agent-1", limitMicros, mode: "hard", perCycle: false, thresholdPercents: [],
      reason: "cap the agent", actor: "support", idempotencyKey: fields.idempotencyKey ?? this.nextKey(), requestHash: `budget:${limitMicros}:${JSON.stringify({ ...fields, idempotencyKey: "" })}`, ...fields,
    };
  }

  deleteBudget(budgetId: string, fields: Partial<DeleteBudgetCommand> = {}): DeleteBudgetCommand {
    return {
      type: "deleteBudget", accountId: this.setup.accountId, budgetId, reason: "no longer needed", actor: "support",
      idempotencyKey: fields.idempotencyKey ?? this.nextKey(), requestHash: `delete-budget:${budgetId}:${JSON.stringify({ ...fields, idempotencyKey: "" })}`, ...fields,
    };
  }

  /** The account's live pool of a kind (the first one). */
  poolOf(kind: Pool["kind"]): Pool {
    const found = [...this.account.pools.values()].find((p) => p.kind === kind && !p.closed);
    if (!found) throw new Error(`no open ${kind} pool`);
    return found;
  }
}
