import type { RateTable } from "@tollgate/rating";
import type { Command } from "./commands.js";
import type { Ids, LedgerState } from "./state.js";
import type { Entry, OutboxEvent, Write } from "./writes.js";

/**
 * What the use cases need of storage. A store reads and locks the state the
 * commands touch (their accounts with every unit, live pool and open hold,
 * the holds, pools and work they name, the records of their idempotency
 * keys), hands it to `decide`, applies the writes it returns and commits —
 * all or nothing. An account the store has never seen is read as an empty
 * account with no cycle. The rules live in the state machine; a store only
 * reads, locks and applies.
 */
export interface LedgerStateStore {
  transact<T>(commands: readonly Command[], decide: (state: LedgerState, ids: Ids) => { value: T; writes: readonly Write[] }): Promise<T>;
}

/**
 * Thrown by a store's `Ids` when the ids it reserved for a batch run out: the
 * store reserves more and decides the batch again. Whoever wraps `decide`
 * lets it through.
 */
export class IdsExhausted extends Error {}

/** The journal and the outbox as written, for reading back (support tools, tests). */
export interface LedgerJournal {
  entries(accountId: string): Promise<Entry[]>;
  outbox(accountId: string): Promise<OutboxEvent[]>;
}

/** Rate tables by id, the version in effect at a time (kept in memory by the composition). */
export interface RateTables {
  /** The version that prices usage at `at` (rating's versionForUsage): the one in effect then, or, before the table's first version, its earliest in effect at `now`. */
  inEffect(tableId: string, at: Date, now: Date): Promise<RateTable>;
  /** The versions published with these sequences (what holds record), whatever their table; unknown ones are left out. */
  published(sequences: Iterable<bigint>): Promise<ReadonlyMap<bigint, RateTable>>;
}
