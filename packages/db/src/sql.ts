import type { EntityManager } from "@mikro-orm/postgresql";

/** Runs raw SQL on the service's connection pool (one round trip). */
export async function sql<T = Record<string, unknown>>(
  em: EntityManager,
  query: string,
  params: readonly unknown[] = [],
): Promise<T[]> {
  return (await em.getConnection().execute(query, params, "all", em.getTransactionContext())) as T[];
}
