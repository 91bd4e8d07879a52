import { log } from "@tollgate/telemetry";
import { randomUUID } from "node:crypto";
import { runContextFromProto, workKindFromProto, type RunContext } from "@tollgate/eligibility";
import { InvalidArgumentError, UnavailableError } from "@tollgate/errors";
import { actorOf, bidiStream, type BidiCall } from "@tollgate/grpc-kit";
import { ledgerV1 } from "@tollgate/proto";
import { int64, usageFromProto } from "@tollgate/rating";
import type { AccountView } from "../domain/account-view.js";
import type { MeterAuthorizeCall, MeterPort } from "../domain/meter-port.js";
import { meterKeys, MeterSession, type MeterStop } from "../domain/meter-session.js";
import { covers } from "../domain/rules/budgets.js";
import type { BudgetScope } from "../domain/state.js";
import { holdTtlProblem } from "../domain/state-machine.js";
import { holdTtlOf } from "../domain/use-cases/authorize.js";
import { attributionFromProto } from "./codec.js";
import { denialToProto } from "./ledger-handlers.js";

const L = ledgerV1;

/** What streams learn from the database, on any replica (data/meter-signals.ts). */
export interface MeterFeeds {
  onRoomExhausted(accountId: string, listener: (unit: string, roomMicros: bigint) => void): () => void;
  /** A hard budget of the account was used up (data/meter-signals.ts). */
  onBudgetExhausted(accountId: string, listener: (budget: ExhaustedBudget) => void): () => void;
  onOpened(listener: (accountId: string, workId: string, streamId: string) => void): () => void;
  onReconnect(listener: () => void): () => void;
  /** Whether a reopen on another replica would be heard now. */
  listening(): boolean;
  announceOpened(accountId: string, workId: string, streamId: string): Promise<void>;
}

export interface ExhaustedBudget {
  budgetId: string;
  unit: string;
  scope: BudgetScope;
  scopeId: string;
}

/** Accounts as the ledger's cache holds them, and a word when the entitlements feed changes one. */
export interface AccountWatch {
  get(accountId: string): Promise<AccountView>;
  watch(watcher: (accountId: string) => void): () => void;
}

export interface MeterStreamOptions {
  /** How long a broken stream's hold is kept for a reconnect before the unused rest is released. */
  graceMs: number;
  now?: () => Date;
  log?: (line: string) => void;
}

type Call = BidiCall<ledgerV1.MeterRequest, ledgerV1.MeterResponse>;

/** One open stream's fixed facts. */
interface Opened {
  session: MeterSession;
  streamId: string;
  attribution: Record<string, string>;
  context: RunContext;
}

const stopResponse = (stop: MeterStop): ledgerV1.MeterResponse => ({
  kind: { $case: "stop", stop: { reason: L.meterStopReasonFromJSON(`METER_STOP_REASON_${stop.reason}`), message: stop.message } },
});

const workKey = (accountId: string, workId: string) => `${accountId}\n${workId}`;
/** How long an open waits for its reopen to be announced to the other replicas. */
const ANNOUNCE_TIMEOUT_MS = 2_000;
/** setTimeout's longest delay; a later expiry is checked again when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The Meter RPC: decodes the stream's messages, feeds the session
 * (domain/meter-session.ts) and writes through the MeterPort. It also keeps
 * the replica's broken streams' holds for their grace period, and forgets
 * them when a stream anywhere reopens their work.
 */
export class MeterStreams {
  private readonly parked = new Map<string, { timer: NodeJS.Timeout; session: MeterSession }>();
  /** The latest stream to open each work id, as announced (kept about twice the grace period). */
  private readonly openedBy = new Map<string, { streamId: string; at: number }>();
  private readonly live = new Set<Call>();
  private readonly unsubscribe: () => void;
  private stopped = false;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;

  constructor(
    private readonly port: MeterPort,
    private readonly feeds: MeterFeeds,
    private readonly accounts: AccountWatch,
    private readonly options: MeterStreamOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? ((line) => log().warn(`meter: ${line}`));
    const unsubscribe = [
      feeds.onOpened((accountId, workId, streamId) => this.reopened(accountId, workId, streamId)),
      // A reopen elsewhere while the connection was down was not heard: no parked hold is released after its grace.
      feeds.onReconnect(() => this.keepParked("the LISTEN connection came back, and a reopen elsewhere may have been missed")),
    ];
    this.unsubscribe = () => unsubscribe.forEach((stop) => stop());
  }

  readonly handler = bidiStream<ledgerV1.MeterRequest, ledgerV1.MeterResponse>((call) => this.run(call));

  /** Ends every live stream with UNAVAILABLE (clients reconnect elsewhere) and forgets parked holds (they expire at their ttl). */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const call of this.live) call.fail(new UnavailableError("the ledger is shutting down: reconnect and send the same open to resume", "SHUTTING_DOWN"));
    this.forgetParked();
  }

  private async run(call: Call): Promise<void> {
    this.live.add(call);
    const subscriptions: (() => void)[] = [];
    let opened: Opened | undefined;
    try {
      for await (const message of call.messages) {
        const kind = message.kind;
        if (!kind) throw new InvalidArgumentError("kind", "must be open, increment or close");
        if (kind.$case === "open") {
          if (opened) throw new InvalidArgumentError("open", "is sent once, as the first message");
          opened = await this.open(kind.open, call, subscriptions);
          if (!opened) return;
        } else if (!opened) {
          throw new InvalidArgumentError(kind.$case, "must come after open (the first message opens the work)");
        } else if (kind.$case === "increment") {
          await this.increment(opened, kind.increment, call);
        } else {
          await this.close(opened, kind.close, call);
          return;
        }
      }
    } finally {
      this.live.delete(call);
      for (const unsubscribe of subscriptions) unsubscribe();
      if (opened?.session.holding) this.park(opened.session, opened.streamId);
    }
  }

  private async open(open: ledgerV1.MeterOpen, call: Call, subscriptions: (() => void)[]): Promise<Opened | undefined> {
    if (!open.accountId) throw new InvalidArgumentError("open.account_id", "is required");
    if (!open.workId) throw new InvalidArgumentError("open.work_id", "is required");
    if (!open.estimate) throw new InvalidArgumentError("open.estimate", "is required");
    const accountId = open.accountId;
    const attribution = attributionFromProto(open.attribution);
    const context = runContextFromProto(open.context);
    // Read before the announce: an open refused for its own fields must not keep a broken stream's hold to its ttl.
    const request = {
      accountId,
      estimate: usageFromProto(open.estimate, "open.estimate"),
      attribution,
      idempotencyKey: meterKeys(open.workId).open,
      ttlMs: Number(int64(open.ttlMs, "open.ttl_ms")),
      context,
      workKind: workKindFromProto(open.workKind),
    };
    const ttlProblem = holdTtlProblem(holdTtlOf(request.ttlMs));
    if (ttlProblem) throw new InvalidArgumentError("open.ttl_ms", ttlProblem);
    // The work is held by this stream from now on: no replica releases it after a broken stream's grace period. A replica
    // that parked it must hear so: when this one cannot tell them (its LISTEN connection is down), the open is refused, as
    // the parked hold would be released under this stream; the client reconnects, maybe to another replica.
    const streamId = randomUUID();
    // Taken before the announce: this replica hears its own announcement (NOTIFY on its LISTEN connection), which forgets it.
    const parked = this.parked.get(workKey(accountId, open.workId))?.session;
    await this.announce(accountId, open.workId, streamId);
    this.reopened(accountId, open.workId, streamId);
    let opened: Opened | undefined;
    try {
      opened = await this.opened(request, open.workId, streamId, call, subscriptions);
      return opened;
    } finally {
      // Refused or failed, this stream never held the work: a broken stream's hold it took over here is parked again
      // (released after the grace period unless a stream opens the work first). Another replica's stays kept, to its ttl.
      if (!opened && parked) this.park(parked, streamId);
    }
  }

  /** Authorizes an announced open and starts its session (undefined: refused, and answered so). */
  private async opened(request: MeterAuthorizeCall, workId: string, streamId: string, call: Call, subscriptions: (() => void)[]): Promise<Opened | undefined> {
    const { accountId, attribution, context } = request;
    const authorized = await this.port.authorize(request);
    const answer = {
      allowed: authorized.allowed,
      reason: denialToProto(authorized.reason),
      message: authorized.message ?? "",
      holdId: authorized.holdId ?? "",
      amountMicros: authorized.amountMicros.toString(),
      availableMicros: authorized.availableMicros.toString(),
      metered: authorized.metered,
      expiresAt: authorized.expiresAt,
      draftsOnly: authorized.draftsOnly === true,
    };
    if (!authorized.allowed) {
      call.send({ kind: { $case: "opened", opened: answer } });
      return undefined;
    }
    const hold = authorized.holdId ? await this.port.hold(authorized.holdId) : undefined;
    const session = new MeterSession(accountId, workId, hold);
    const push = (stop: MeterStop | undefined) => {
      if (stop) call.send(stopResponse(stop));
    };
    const checkStatus = () => this.accounts.get(accountId).then((view) => push(session.accountStatus(view.status)), (error: unknown) => this.log(`account ${accountId}: ${String(error)}`));
    const checkRoom = (unit: string) => this.port.room(accountId, unit).then((room) => push(session.roomExhausted(unit, room)), (error: unknown) => this.log(`room of ${accountId}: ${String(error)}`));
    // A budget used up while no stream of the work was live (or while the listener reconnected) was not heard: read it.
    const checkBudgets = (unit: string) =>
      this.port.usedUpBudgets(accountId).then(
        (budgets) => budgets.filter((budget) => covers(budget, unit, attribution)).forEach((budget) => push(session.budgetExhausted(budget.budgetId))),
        (error: unknown) => this.log(`budgets of ${accountId}: ${String(error)}`),
      );

    subscriptions.push(this.accounts.watch((changed) => void (changed === accountId && checkStatus())));
    const unit = session.unit;
    if (unit) {
      subscriptions.push(this.feeds.onRoomExhausted(accountId, (exhausted, room) => push(session.roomExhausted(exhausted, room))));
      subscriptions.push(this.feeds.onReconnect(() => void checkRoom(unit).then(() => checkBudgets(unit))));
      subscriptions.push(this.feeds.onBudgetExhausted(accountId, (budget) => void (covers(budget, unit, attribution) && push(session.budgetExhausted(budget.budgetId)))));
    }
    subscriptions.push(this.expiryTimer(session, push));
    call.send({ kind: { $case: "opened", opened: answer } });

    // A reconnect's authorize is a replay: the account may have been suspended, the hold used up or expired since.
    push(session.tick(this.now()));
    await checkStatus();
    if (unit && session.reserved === 0n) await checkRoom(unit);
    if (unit) await checkBudgets(unit);
    return { session, streamId, attribution, context };
  }

  /**
   * Tells every replica the work is reopened, or refuses the open UNAVAILABLE: at once while the LISTEN connection is
   * down, and after ANNOUNCE_TIMEOUT_MS when it does not answer (a connection gone without a word would hold every open).
   */
  private async announce(accountId: string, workId: string, streamId: string): Promise<void> {
    const refused = (why: string) => {
      this.log(`could not announce ${workId}: ${why}`);
      return new UnavailableError(`the ledger could not tell its replicas that ${workId} is reopened: reconnect and send the same open`, "METER_ANNOUNCE_FAILED");
    };
    if (!this.feeds.listening()) throw refused("the LISTEN connection is down");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(refused(`no answer within ${ANNOUNCE_TIMEOUT_MS} ms`)), ANNOUNCE_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.feeds.announceOpened(accountId, workId, streamId).catch((error: unknown) => Promise.reject(refused(String(error)))), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private expiryTimer(session: MeterSession, push: (stop: MeterStop | undefined) => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const expiresAt = session.expiresAt;
      if (!expiresAt) return;
      timer = setTimeout(() => {
        const stop = session.tick(this.now());
        if (stop) push(stop);
        // A closed session decides no stop: its timer ends (it re-armed at once, over and over, while a slow close ran).
        else if (!session.stopped && session.holding) arm();
      }, Math.min(Math.max(expiresAt.getTime() - this.now().getTime(), 0), MAX_TIMER_MS));
      timer.unref();
    };
    arm();
    return () => clearTimeout(timer);
  }

  private async increment({ session, attribution, context }: Opened, increment: ledgerV1.MeterIncrement, call: Call): Promise<void> {
    const sequence = int64(increment.sequence, "increment.sequence");
    if (!increment.usage) throw new InvalidArgumentError("increment.usage", "is required");
    const usage = usageFromProto(increment.usage, "increment.usage");
    session.admit(sequence, session.resumes(sequence) && (await this.port.recorded(session.accountId, session.keys.increment(sequence - 1n))));
    const charged = await fieldsOf("increment", this.port.charge({
      accountId: session.accountId,
      ...(session.hold ? { holdId: session.hold.holdId } : {}),
      usage,
      final: false,
      idempotencyKey: session.keys.increment(sequence),
      attribution,
      context,
      ...(increment.occurredAt ? { occurredAt: increment.occurredAt } : {}),
      ...actorOf(call.context, ""),
    }));
    call.send({
      kind: {
        $case: "charged",
        charged: {
          sequence: sequence.toString(),
          chargedMicros: charged.chargedMicros.toString(),
          uncollectedMicros: charged.uncollectedMicros.toString(),
          balanceMicros: charged.balanceMicros.toString(),
          proceed: charged.proceed,
          entryId: charged.entryId.toString(),
          replayed: charged.replayed,
        },
      },
    });
    const stop = session.charged(charged);
    if (stop) call.send(stopResponse(stop));
  }

  /** The final charge (or, with no usage left to report, the release) of the work, keyed so a reconnect replays it. */
  private async close(opened: Opened, close: ledgerV1.MeterClose, call: Call): Promise<void> {
    opened.session.close();
    try {
      await this.closeWork(opened, close, call);
    } catch (error) {
      // Nothing was closed (or its answer was lost): the stream still holds the work, and its hold is parked as a broken one's.
      opened.session.closeFailed();
      throw error;
    }
  }

  private async closeWork({ session, attribution, context }: Opened, close: ledgerV1.MeterClose, call: Call): Promise<void> {
    const hold = session.hold;
    let finalMicros = 0n;
    let releasedMicros = 0n;
    if (close.usage) {
      const charged = await fieldsOf("close", this.port.charge({
        accountId: session.accountId,
        ...(hold ? { holdId: hold.holdId } : {}),
        usage: usageFromProto(close.usage, "close.usage"),
        final: true,
        idempotencyKey: session.keys.close,
        attribution,
        context,
        ...(close.occurredAt ? { occurredAt: close.occurredAt } : {}),
        ...actorOf(call.context, ""),
      }));
      finalMicros = charged.chargedMicros;
      releasedMicros = charged.releasedMicros;
    } else if (hold) {
      releasedMicros = (await this.port.release({ accountId: session.accountId, holdId: hold.holdId, idempotencyKey: session.keys.close })).releasedMicros;
    }
    const total = hold ? ((await this.port.hold(hold.holdId))?.chargedMicros ?? 0n) : finalMicros;
    call.send({
      kind: {
        $case: "closed",
        closed: { totalChargedMicros: total.toString(), finalChargedMicros: finalMicros.toString(), releasedMicros: releasedMicros.toString() },
      },
    });
  }

  /** A stream broke holding its work: the unused rest is released after the grace period, unless a stream reopens the work first. */
  private park(session: MeterSession, streamId: string): void {
    if (this.stopped || !session.hold) return;
    const key = workKey(session.accountId, session.workId);
    const latest = this.openedBy.get(key);
    if (latest && latest.streamId !== streamId) return; // another stream (maybe on another replica) holds the work now
    const holdId = session.hold.holdId;
    clearTimeout(this.parked.get(key)?.timer);
    const timer = setTimeout(() => {
      this.parked.delete(key);
      if (!this.feeds.listening()) {
        this.log(`kept ${holdId} of ${session.workId} to its ttl: this replica cannot hear now whether another reopened the work`);
        return;
      }
      this.port
        .release({ accountId: session.accountId, holdId, idempotencyKey: session.keys.release })
        .catch((error: unknown) => this.log(`could not release ${holdId} of ${session.workId} after the grace period: ${String(error)}`));
    }, this.options.graceMs);
    timer.unref();
    this.parked.set(key, { timer, session });
  }

  /** Forgets every parked hold: each is left to expire at its ttl (released then), never released while a stream may use it. */
  private keepParked(why: string): void {
    if (this.parked.size > 0) this.log(`${this.parked.size} broken streams' holds kept to their ttl: ${why}`);
    this.forgetParked();
  }

  private forgetParked(): void {
    for (const { timer } of this.parked.values()) clearTimeout(timer);
    this.parked.clear();
  }

  /** A stream opened this work (here or on another replica): a parked hold of it is kept. */
  private reopened(accountId: string, workId: string, streamId: string): void {
    const key = workKey(accountId, workId);
    const parked = this.parked.get(key);
    if (parked) {
      clearTimeout(parked.timer);
      this.parked.delete(key);
    }
    const now = Date.now();
    this.openedBy.set(key, { streamId, at: now });
    if (this.openedBy.size > 1_000) {
      const keepMs = 2 * Math.max(this.options.graceMs, 60_000);
      for (const [k, v] of this.openedBy) if (now - v.at > keepMs) this.openedBy.delete(k);
    }
  }
}

/** Fields of an increment or close (and those within them) that the charge it makes checks: its errors name them within the stream message. */
const ownField = (field: string) => field === "occurred_at" || field === "usage" || field.startsWith("usage.");

/** A charge a stream message makes, its field errors named as in that message (`increment.occurred_at`, not `occurred_at`). */
async function fieldsOf<T>(message: "increment" | "close", pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    if (error instanceof InvalidArgumentError && ownField(error.field)) {
      throw new InvalidArgumentError(`${message}.${error.field}`, error.problem);
    }
    throw error;
  }
}
