import { RequestContext, type EntityManager } from "@mikro-orm/core";
import type { RequestScope } from "./handlers.js";

/**
 * Each call gets its own forked EntityManager (identity map), so no state
 * leaks between requests and no global EntityManager is shared.
 */
export function mikroOrmScope(em: EntityManager): RequestScope {
  return (fn) => RequestContext.create(em, fn);
}
