import { newestFirstEntities, sql, type EntityManager, type IdempotencyTable, type NewestFirstCursor, type Paged } from "@tollgate/db";
import { CYCLE_BANNER_RULES, RECEDED_BANNER_RULES, type Decisions } from "../domain/rules.js";
import { BannerSchema, type Banner } from "./banner.entity.js";
import { DeliverySchema, PreferencesSchema, type Delivery, type Preferences } from "./delivery.entity.js";

/**
 * The answers of the support changes made under an idempotency key
 * (@tollgate/db's PostgresIdempotencyStore): keys per account, and their
 * request hashes bind the operation, as the table's records were first written.
 */
export const IDEMPOTENCY_KEYS: IdempotencyTable = { table: "notifications.idempotency_keys", scopeColumn: "account_id", hashOperation: true };

export interface NotificationsStore {
  offset(consumer: string): Promise<bigint>;
  /**
   * Records what an event produced (banners and deliveries, each once per
   * dedup key) and advances the consumer offset, in one transaction.
   */
  recordEvent(consumer: string, sequence: bigint, decisions: Decisions, trace: { traceId: string; traceparent: string }): Promise<void>;
  banners(accountId: string, includeDismissed: boolean): Promise<Banner[]>;
  banner(bannerId: string): Promise<Banner | null>;
  /** Dismisses the banner (once: a dismissed one keeps who dismissed it and when); null when there is none. */
  dismiss(bannerId: string, actor: string): Promise<Banner | null>;
  /** Claims due deliveries on the given channels for `leaseMs` (skipping rows other replicas hold). */
  claimDue(limit: number, leaseMs: number, channels: readonly string[]): Promise<Delivery[]>;
  /** Keeps a claim that is still sending for another `leaseMs`; false when it is no longer the row's. */
  extendLease(notificationId: string, attempt: number, leaseMs: number): Promise<boolean>;
  /**
   * Records the outcome of the send claimed as attempt `attempt`; false when that claim is no longer the row's
   * (its lease ran out and another claim took the row): the outcome is then the later claim's to record.
   */
  markDelivered(notificationId: string, attempt: number): Promise<boolean>;
  /** Deletes up to `limit` deliveries delivered more than `retentionMs` ago (pending, failed and dead letters stay). */
  pruneDelivered(retentionMs: number, limit: number): Promise<number>;
  markFailed(notificationId: string, attempt: number, error: string, retryAt: Date | null): Promise<boolean>;
  /** Newest first; `traceId` keeps those of the ledger events written under that trace. */
  /** Deliveries, newest first, after `after` (a page's last row; unset: from the newest). */
  deliveries(filter: { accountId?: string; traceId?: string; after?: NewestFirstCursor; limit: number }): Promise<Paged<Delivery>[]>;
  delivery(notificationId: string): Promise<Delivery | null>;
  /** Sends the delivery again (pending now, its retries afresh; one being sent is left as it is); null when there is none. */
  resend(notificationId: string): Promise<Delivery | null>;
  preferences(accountId: string): Promise<Preferences | null>;
  /**
   * Saves the fields given; those left out keep what is saved (none saved yet: empty), in one statement. Answers what is
   * saved, and the webhooks as that statement wrote them (each kept secret resolved).
   */
  savePreferences(accountId: string, changes: PreferencesChanges): Promise<{ preferences: Preferences; webhooks: { url: string; secret: string }[] | undefined }>;
}

export interface PreferencesChanges {
  emailRecipients?: string[];
  /** `keep`: the secret is a candidate, used only when the row holds no secret for the URL (read under the row's lock). */
  webhooks?: { url: string; secret: string; keep?: boolean }[];
  channelsByRule?: Record<string, string[]>;
}

/** A delivery row still held by the claim that made attempt `?`: a later claim (its lease ran out) has its own attempt. */
const OWN_CLAIM = "notification_id = ? and status = 'sending' and attempts = ?";

export class PostgresNotificationsStore implements NotificationsStore {
  constructor(private readonly em: () => EntityManager) {}

  async pruneDelivered(retentionMs: number, limit: number): Promise<number> {
    const rows = await sql<{ id: string }>(
      this.em(),
      `delete from notifications.deliveries where notification_id in (
         select notification_id from notifications.deliveries
          where status = 'delivered' and delivered_at < now() - make_interval(secs => ? / 1000.0) limit ?)
       returning notification_id as id`,
      [retentionMs, limit],
    );
    return rows.length;
  }

  async offset(consumer: string): Promise<bigint> {
    const [row] = await sql<{ sequence: string }>(this.em(), `select sequence::text from notifications.consumer_offsets where consumer = ?`, [consumer]);
    return row ? BigInt(row.sequence) : 0n;
  }

  async recordEvent(consumer: string, sequence: bigint, decisions: Decisions, trace: { traceId: string; traceparent: string }): Promise<void> {
    // Every banner change below is the event's only if the banner was not changed by a later event (another replica
    // may have handled one already): `event_sequence < ?`.
    const event = sequence.toString();
    await this.em().transactional(async (em) => {
      /**
       * Takes down, as the ledger's doing, the shown banners of an account that `where` picks and no later event changed;
       * `dismissedToo`: those its user dismissed as well, so a new crossing puts them up again (usage that fell back below).
       */
      const takeDown = (accountId: string, where: string, params: unknown[], dismissedToo = false) =>
        sql(
          em,
          `update notifications.banners set dismissed_at = coalesce(dismissed_at, now()), dismissed_by = 'ledger', event_sequence = ?
            where account_id = ? and ${dismissedToo ? "true" : "dismissed_at is null"} and event_sequence < ? and ${where}`,
          [event, accountId, event, ...params],
        );
      for (const banner of decisions.banners) {
        await sql(
          em,
          // A banner the ledger's events took down (usage that fell back below its threshold) is put up again by a new crossing.
          `insert into notifications.banners (account_id, rule, kind, message, unit, threshold_percent, dedup_key, trace_id, budget_id, event_sequence)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           on conflict (dedup_key) do update set dismissed_at = null, dismissed_by = null, trace_id = excluded.trace_id, created_at = now(), event_sequence = excluded.event_sequence
            where notifications.banners.dismissed_by = 'ledger' and notifications.banners.event_sequence < excluded.event_sequence`,
          [banner.accountId, banner.rule, banner.kind, banner.message, banner.unit, banner.thresholdPercent, banner.dedupKey, trace.traceId, banner.budgetId ?? null, event],
        );
      }
      for (const { accountId, budgetId } of decisions.lifted ?? []) {
        // Fixed ones too: they said work is refused until the budget is raised, which no longer holds.
        await takeDown(accountId, "budget_id = ?", [budgetId]);
      }
      if (decisions.receded) {
        const { accountId, unit, cycle, thresholdPercents } = decisions.receded;
        for (const percent of thresholdPercents) {
          const rules = RECEDED_BANNER_RULES(percent);
          await takeDown(
            accountId,
            `unit = ? and threshold_percent = ? and strpos(dedup_key, ?) > 0 and rule in (${rules.map(() => "?").join(", ")})`,
            [unit, percent, `:${cycle}:`, ...rules],
            true,
          );
        }
      }
      if (decisions.newCycle) {
        // Taken down as the ledger's doing, fixed ones too: the 100 % banner said the cycle's credits were used up.
        const { accountId, cycle } = decisions.newCycle;
        await takeDown(
          accountId,
          `strpos(dedup_key, ?) = 0 and (starts_with(rule, ?) or rule in (${CYCLE_BANNER_RULES.rules.map(() => "?").join(", ")}))`,
          [`:${cycle}:`, CYCLE_BANNER_RULES.prefix, ...CYCLE_BANNER_RULES.rules],
        );
      }
      for (const delivery of decisions.deliveries) {
        await sql(
          em,
          `insert into notifications.deliveries (account_id, channel, recipient, rule, dedup_key, payload, trace_id, traceparent)
           values (?, ?, ?, ?, ?, ?::jsonb, ?, ?) on conflict (dedup_key) do nothing`,
          [delivery.accountId, delivery.channel, delivery.recipient, delivery.rule, delivery.dedupKey, JSON.stringify(delivery.payload), trace.traceId, trace.traceparent],
        );
      }
      await sql(
        em,
        `insert into notifications.consumer_offsets (consumer, sequence) values (?, ?)
         on conflict (consumer) do update set sequence = greatest(notifications.consumer_offsets.sequence, excluded.sequence)`,
        [consumer, sequence.toString()],
      );
    });
  }

  banners(accountId: string, includeDismissed: boolean): Promise<Banner[]> {
    return this.em().find(BannerSchema, { accountId, ...(includeDismissed ? {} : { dismissedAt: null }) }, { orderBy: { createdAt: "desc" } });
  }

  banner(bannerId: string): Promise<Banner | null> {
    return this.em().findOne(BannerSchema, { bannerId });
  }

  async dismiss(bannerId: string, actor: string): Promise<Banner | null> {
    await sql(this.em(), `update notifications.banners set dismissed_at = now(), dismissed_by = ? where banner_id = ? and dismissed_at is null`, [actor, bannerId]);
    return this.em().findOne(BannerSchema, { bannerId }, { refresh: true });
  }

  async claimDue(limit: number, leaseMs: number, channels: readonly string[]): Promise<Delivery[]> {
    if (channels.length === 0) return [];
    const rows = await sql<{ notification_id: string }>(
      this.em(),
      `update notifications.deliveries d
          set status = 'sending', attempts = attempts + 1, lease_until = now() + make_interval(secs => ? / 1000.0)
        where notification_id in (
          select notification_id from notifications.deliveries
           where ((status in ('pending', 'failed') and next_attempt_at <= now())
              or (status = 'sending' and lease_until < now()))
             and channel in (${channels.map(() => "?").join(", ")})
           order by next_attempt_at
           limit ? for update skip locked)
       returning notification_id`,
      [leaseMs, ...channels, limit],
    );
    if (rows.length === 0) return [];
    return this.em().find(DeliverySchema, { notificationId: { $in: rows.map((r) => r.notification_id) } }, { refresh: true });
  }

  async extendLease(notificationId: string, attempt: number, leaseMs: number): Promise<boolean> {
    const updated = await sql(
      this.em(),
      `update notifications.deliveries set lease_until = now() + make_interval(secs => ? / 1000.0) where ${OWN_CLAIM} returning notification_id`,
      [leaseMs, notificationId, attempt],
    );
    return updated.length > 0;
  }

  async markDelivered(notificationId: string, attempt: number): Promise<boolean> {
    const updated = await sql(
      this.em(),
      `update notifications.deliveries set status = 'delivered', delivered_at = now(), last_error = '', lease_until = null
        where ${OWN_CLAIM} returning notification_id`,
      [notificationId, attempt],
    );
    return updated.length > 0;
  }

  async markFailed(notificationId: string, attempt: number, error: string, retryAt: Date | null): Promise<boolean> {
    const updated = await sql(
      this.em(),
      `update notifications.deliveries
          set status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), lease_until = null
        where ${OWN_CLAIM} returning notification_id`,
      [retryAt ? "failed" : "dead_letter", error.slice(0, 2000), retryAt, notificationId, attempt],
    );
    return updated.length > 0;
  }

  deliveries(filter: { accountId?: string; traceId?: string; after?: NewestFirstCursor; limit: number }): Promise<Paged<Delivery>[]> {
    const conditions = [filter.accountId && { sql: "account_id = ?", params: [filter.accountId] }, filter.traceId && { sql: "trace_id = ?", params: [filter.traceId] }];
    return newestFirstEntities(
      this.em(),
      { table: "notifications.deliveries", idColumn: "notification_id", conditions, ...(filter.after ? { after: filter.after } : {}), limit: filter.limit }, // deliveries_account_idx for one account
      (ids) => this.em().find(DeliverySchema, { notificationId: { $in: ids } }),
      (delivery) => delivery.notificationId,
    );
  }

  delivery(notificationId: string): Promise<Delivery | null> {
    return this.em().findOne(DeliverySchema, { notificationId });
  }

  async resend(notificationId: string): Promise<Delivery | null> {
    await sql(
      this.em(),
      `update notifications.deliveries set status = 'pending', next_attempt_at = now(), lease_until = null, attempts_before_resend = attempts
        where notification_id = ? and status <> 'sending'`,
      [notificationId],
    );
    return this.em().findOne(DeliverySchema, { notificationId }, { refresh: true });
  }

  preferences(accountId: string): Promise<Preferences | null> {
    return this.em().findOne(PreferencesSchema, { accountId });
  }

  async savePreferences(accountId: string, changes: PreferencesChanges) {
    const webhooks = changes.webhooks?.map(({ url, secret }) => ({ url, secret }));
    const columns = [
      ["email_recipients", changes.emailRecipients, "[]"],
      ["webhooks", webhooks, "[]"],
      ["channels_by_rule", changes.channelsByRule, "{}"],
    ] as const;
    const changed = columns.filter(([, value]) => value !== undefined).map(([column]) =>
      column === "webhooks"
        ? // An endpoint whose secret is kept takes the one the row holds for its URL, read under the row's lock, so two
          // saves at once that both add it agree on one secret (the first's); otherwise the candidate sent.
          `webhooks = (select coalesce(jsonb_agg(case when e->>'url' in (select jsonb_array_elements_text(?::jsonb)) then jsonb_build_object('url', e->>'url', 'secret',
             coalesce((select o->>'secret' from jsonb_array_elements(p.webhooks) o where o->>'url' = e->>'url' limit 1), e->>'secret')) else e end
             order by i), '[]'::jsonb) from jsonb_array_elements(excluded.webhooks) with ordinality as t(e, i))`
        : `${column} = excluded.${column}`,
    );
    const kept = (changes.webhooks ?? []).filter((w) => w.keep).map((w) => w.url);
    const [row] = await sql<{ webhooks: { url: string; secret: string }[] }>(
      this.em(),
      `insert into notifications.preferences as p (account_id, email_recipients, webhooks, channels_by_rule)
       values (?, ?::jsonb, ?::jsonb, ?::jsonb)
       on conflict (account_id) do update set ${[...changed, "updated_at = now()"].join(", ")}
       returning p.webhooks`,
      [accountId, ...columns.map(([, value, empty]) => (value === undefined ? empty : JSON.stringify(value))), ...(webhooks ? [JSON.stringify(kept)] : [])],
    );
    const preferences = (await this.em().findOne(PreferencesSchema, { accountId }, { refresh: true }))!;
    return { preferences, webhooks: webhooks ? row!.webhooks : undefined };
  }
}
