import { sql, type EntityManager } from "@tollgate/db";
import type { BannerDraft } from "../domain/rules.js";
import { BannerSchema, type Banner } from "./banner.entity.js";

export interface NotificationsStore {
  offset(consumer: string): Promise<bigint>;
  /** Records the banner (once per dedup key) and advances the consumer offset, in one transaction. */
  recordEvent(consumer: string, sequence: bigint, banner: BannerDraft | undefined, traceId: string): Promise<void>;
  banners(accountId: string, includeDismissed: boolean): Promise<Banner[]>;
  banner(bannerId: string): Promise<Banner | null>;
  dismiss(banner: Banner, actor: string): Promise<Banner>;
}

export class PostgresNotificationsStore implements NotificationsStore {
  constructor(private readonly em: () => EntityManager) {}

  async offset(consumer: string): Promise<bigint> {
    const [row] = await sql<{ sequence: string }>(this.em(), `select sequence::text from notifications.consumer_offsets where consumer = ?`, [consumer]);
    return row ? BigInt(row.sequence) : 0n;
  }

  async recordEvent(consumer: string, sequence: bigint, banner: BannerDraft | undefined, traceId: string): Promise<void> {
    await this.em().transactional(async (em) => {
      if (banner) {
        await sql(
          em,
          `insert into notifications.banners (account_id, rule, kind, message, unit, threshold_percent, dedup_key, trace_id)
           values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (dedup_key) do nothing`,
          [banner.accountId, banner.rule, banner.kind, banner.message, banner.unit, banner.thresholdPercent, banner.dedupKey, traceId],
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
    return this.em().find(
      BannerSchema,
      { accountId, ...(includeDismissed ? {} : { dismissedAt: null }) },
      { orderBy: { createdAt: "desc" } },
    );
  }

  banner(bannerId: string): Promise<Banner | null> {
    return this.em().findOne(BannerSchema, { bannerId });
  }

  async dismiss(banner: Banner, actor: string): Promise<Banner> {
    if (!banner.dismissedAt) {
      this.em().assign(banner, { dismissedAt: new Date(), dismissedBy: actor });
      await this.em().flush();
    }
    return banner;
  }
}
