import type { Command } from "./commands.js";
import { atCommit } from "./commit-rules.js";
import type { RoomExhausted } from "./rules/room-exhausted.js";
import { emptyAccount, type AccountState, type Ids, type LedgerState } from "./state.js";
import type { LedgerJournal, LedgerStateStore } from "./store.js";
import { applyWrites, cloneAccount, type Entry, type OutboxEvent, type Write } from "./writes.js";

/**
 * The ledger's storage in memory: the reference store the state machine's
 * tests and the use cases run against. One transaction at a time (a
 * promise chain stands in for row locks); a transaction that throws, or whose
 * writes name an account it did not read, applies nothing.
 */
export class MemoryLedgerStore implements LedgerStateStore, LedgerJournal {
  private readonly accounts = new Map<string, AccountState>();
  private readonly journal: Entry[] = [];
  private readonly events: OutboxEvent[] = [];
  /** Room-exhausted signals sent at commit, in order (PostgreSQL's store sends them with NOTIFY). */
  readonly roomSignals: RoomExhausted[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private nextEntry = 1n;
  private nextId = 1;

  transact<T>(commands: readonly Command[], decide: (state: LedgerState, ids: Ids) => { value: T; writes: readonly Write[] }): Promise<T> {
    const run = this.tail.then(() => this.apply(commands, decide));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private apply<T>(commands: readonly Command[], decide: (state: LedgerState, ids: Ids) => { value: T; writes: readonly Write[] }): T {
    const state: LedgerState = new Map();
    for (const { accountId } of commands) {
      if (!state.has(accountId)) state.set(accountId, cloneAccount(this.accounts.get(accountId) ?? emptyAccount(accountId)));
    }
    let entry = this.nextEntry;
    let id = this.nextId;
    const ids: Ids = {
      entryId: () => entry++,
      holdId: () => `hold-${String(id++).padStart(9, "0")}`,
      poolId: () => `pool-${String(id++).padStart(9, "0")}`,
    };
    const decided = decide(state, ids);
    const { value } = decided;
    const read: LedgerState = new Map();
    for (const accountId of state.keys()) read.set(accountId, this.accounts.get(accountId) ?? emptyAccount(accountId));
    const writes = [...decided.writes, ...atCommit(read, decided.writes)];
    // Applied to copies of the accounts read, then committed: a write the batch may not make (an account it did not read) applies nothing.
    const next: LedgerState = new Map();
    for (const accountId of state.keys()) next.set(accountId, cloneAccount(this.accounts.get(accountId) ?? emptyAccount(accountId)));
    applyWrites(next, writes);
    for (const [accountId, account] of next) this.accounts.set(accountId, account);
    for (const write of writes) {
      if (write.type === "entry") this.journal.push(write.entry);
      if (write.type === "outbox" && !this.once(write.event)) this.events.push(write.event);
      if (write.type === "roomExhausted") this.roomSignals.push({ accountId: write.accountId, unit: write.unit, roomMicros: write.roomMicros });
    }
    this.nextEntry = entry;
    this.nextId = id;
    return value;
  }

  /** The outbox keeps one `spend_cap_reached` per account and cycle (PostgreSQL: a unique index): whether this one is a second. */
  private once(event: OutboxEvent): boolean {
    return event.kind === "spend_cap_reached" && this.events.some((e) => e.kind === event.kind && e.accountId === event.accountId && e.payload.cycle === event.payload.cycle);
  }

  async entries(accountId: string): Promise<Entry[]> {
    return this.journal.filter((e) => e.accountId === accountId);
  }

  async outbox(accountId: string): Promise<OutboxEvent[]> {
    return this.events.filter((e) => e.accountId === accountId);
  }

  /** A copy of one account's state, as the next transaction would read it. */
  async account(accountId: string): Promise<AccountState | undefined> {
    const found = this.accounts.get(accountId);
    return found && cloneAccount(found);
  }
}
