import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import { sql, type EntityManager } from "@tollgate/db";

/** Ended windows are deleted after this many counted attempts (one statement then, none otherwise). */
const PRUNE_EVERY = 200;

/** At most this many keys past their limit are remembered in the process (beyond it, the oldest are forgotten and asked of the database again). */
const BLOCKED_KEPT = 10_000;

/**
 * Sign-in attempt counters in PostgreSQL (`gateway.login_attempts`), as the
 * store of `@fastify/rate-limit`: every gateway process on the database
 * counts against the same limits, so more replicas do not multiply the
 * guesses anyone gets, and a restart does not forget them. As with the
 * plugin's own store, a window starts at a key's first attempt and lasts
 * `timeWindow`; each attempt is one upsert, counted before the password is
 * checked. A key found past its limit stays so until its window ends (a
 * window never moves), so the process answers its further attempts itself
 * until then: a flood of refused sign-ins costs the database nothing.
 */
export function loginAttemptStore(em: () => EntityManager): FastifyRateLimitStoreCtor {
  let counted = 0;
  /** Keys past their limit, with when (epoch ms) their window ends; in insertion order, oldest first. */
  const blockedUntilMs = new Map<string, number>();

  class PostgresLoginAttempts implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number, max: number): void {
      const untilMs = blockedUntilMs.get(key) ?? 0;
      if (untilMs > Date.now()) return callback(null, { current: max + 1, ttl: untilMs - Date.now() });
      blockedUntilMs.delete(key);
      void count(em(), key, timeWindow).then(
        (result) => {
          if (result.current > max) remember(key, Date.now() + result.ttl);
          callback(null, result);
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  }

  function remember(key: string, untilMs: number): void {
    if (blockedUntilMs.size >= BLOCKED_KEPT) {
      const now = Date.now();
      for (const [known, endMs] of blockedUntilMs) if (endMs <= now) blockedUntilMs.delete(known);
      if (blockedUntilMs.size >= BLOCKED_KEPT) blockedUntilMs.delete(blockedUntilMs.keys().next().value!);
    }
    blockedUntilMs.set(key, untilMs);
  }

  async function count(manager: EntityManager, key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
    const [row] = await sql<{ attempts: number; ttl_ms: number }>(
      manager,
      `insert into gateway.login_attempts as a (key, attempts, expires_at) values (?, 1, now() + make_interval(secs => ? / 1000.0))
       on conflict (key) do update set
         attempts = case when a.expires_at <= now() then 1 else a.attempts + 1 end,
         expires_at = case when a.expires_at <= now() then excluded.expires_at else a.expires_at end
       returning attempts, greatest(0, ceil(extract(epoch from a.expires_at - now()) * 1000))::bigint as ttl_ms`,
      [key, windowMs],
    );
    // Now and then the ended windows go; a prune that fails is tried again next time, and this attempt is counted all the same.
    if (++counted % PRUNE_EVERY === 0) await sql(manager, `delete from gateway.login_attempts where expires_at < now()`).catch(() => undefined);
    return { current: row!.attempts, ttl: Number(row!.ttl_ms) };
  }

  return PostgresLoginAttempts;
}
