import { log } from "@tollgate/telemetry";
import { NotificationListener } from "@tollgate/db";
import type { BudgetScope } from "../domain/state.js";
import { BUDGET_EXHAUSTED_CHANNEL } from "./migrations/budgets.sql.js";
import { ROOM_EXHAUSTED_CHANNEL } from "./migrations/room-exhausted.sql.js";

/** Announces that a Meter stream (re)opened a piece of work, so every replica keeps that work's hold. */
const METER_OPENED_CHANNEL = "ledger_meter_opened";

type RoomListener = (unit: string, roomMicros: bigint) => void;
type BudgetListener = (budget: { budgetId: string; unit: string; scope: BudgetScope; scopeId: string }) => void;

/**
 * What Meter streams learn from the database, on whichever replica holds
 * them: a commit that left an account's unit without room (the
 * `ledger_room_exhausted` trigger) and a stream that (re)opened a work id
 * elsewhere. One LISTEN connection per replica, dispatched by account.
 */
export class MeterSignals {
  private readonly listener: NotificationListener;
  private readonly rooms = new Map<string, Set<RoomListener>>();
  private readonly budgets = new Map<string, Set<BudgetListener>>();
  private readonly openedListeners = new Set<(accountId: string, workId: string, streamId: string) => void>();
  private readonly reconnectListeners = new Set<() => void>();

  constructor(url: string) {
    this.listener = new NotificationListener({
      url,
      channels: [ROOM_EXHAUSTED_CHANNEL, METER_OPENED_CHANNEL, BUDGET_EXHAUSTED_CHANNEL],
      onNotification: (channel, payload) => this.dispatch(channel, payload),
      onReconnect: () => this.reconnectListeners.forEach((listener) => listener()),
      log: (line) => log().warn(`meter signals: ${line}`),
    });
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  stop(): Promise<void> {
    return this.listener.stop();
  }

  private dispatch(channel: string, payload: string): void {
    let message: Record<string, string>;
    try {
      message = JSON.parse(payload) as Record<string, string>;
    } catch {
      return;
    }
    if (channel === ROOM_EXHAUSTED_CHANNEL) {
      const room = BigInt(message.room_micros ?? "0");
      for (const listener of this.rooms.get(message.account_id ?? "") ?? []) listener(message.unit ?? "", room);
    } else if (channel === BUDGET_EXHAUSTED_CHANNEL) {
      const budget = { budgetId: message.budget_id ?? "", unit: message.unit ?? "", scope: (message.scope ?? "") as BudgetScope, scopeId: message.scope_id ?? "" };
      for (const listener of this.budgets.get(message.account_id ?? "") ?? []) listener(budget);
    } else if (channel === METER_OPENED_CHANNEL) {
      for (const listener of this.openedListeners) listener(message.account_id ?? "", message.work_id ?? "", message.stream_id ?? "");
    }
  }

  /** Calls `listener` whenever a commit leaves one of the account's units without room; returns the unsubscribe. */
  onRoomExhausted(accountId: string, listener: RoomListener): () => void {
    return subscribe(this.rooms, accountId, listener);
  }

  /** Calls `listener` whenever a commit leaves one of the account's hard budgets used up; returns the unsubscribe. */
  onBudgetExhausted(accountId: string, listener: BudgetListener): () => void {
    return subscribe(this.budgets, accountId, listener);
  }

  /** Calls `listener` when a stream anywhere (re)opens a work id. */
  onOpened(listener: (accountId: string, workId: string, streamId: string) => void): () => void {
    this.openedListeners.add(listener);
    return () => this.openedListeners.delete(listener);
  }

  /** Whether notifications are heard now: false while the LISTEN connection is down. */
  listening(): boolean {
    return this.listener.listening;
  }

  /** Calls `listener` after the LISTEN connection came back (notifications may have been missed). */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Tells every replica (this one included) that stream `streamId` opened `workId`. */
  announceOpened(accountId: string, workId: string, streamId: string): Promise<void> {
    return this.listener.notify(METER_OPENED_CHANNEL, JSON.stringify({ account_id: accountId, work_id: workId, stream_id: streamId }));
  }
}

/** Adds a listener to an account's set; returns the unsubscribe (which drops the set once empty). */
function subscribe<L>(byAccount: Map<string, Set<L>>, accountId: string, listener: L): () => void {
  let listeners = byAccount.get(accountId);
  if (!listeners) byAccount.set(accountId, (listeners = new Set()));
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) byAccount.delete(accountId);
  };
}
