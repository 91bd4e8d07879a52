import { InvalidArgumentError } from "@tollgate/errors";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** The page size a list RPC serves: the default when unset, INVALID_ARGUMENT when out of range. */
export function pageSize(requested: number | undefined): number {
  if (!requested) return DEFAULT_PAGE_SIZE;
  if (requested < 0 || requested > MAX_PAGE_SIZE) throw new InvalidArgumentError("page.page_size", `must be between 1 and ${MAX_PAGE_SIZE}`);
  return requested;
}

/** Splits rows fetched with one extra into a page and the cursor of its last row (empty when no more). */
export function page<T>(rows: T[], size: number, cursorOf: (row: T) => string): { items: T[]; nextPageToken: string } {
  const items = rows.slice(0, size);
  return { items, nextPageToken: rows.length > size ? cursorOf(items[items.length - 1]!) : "" };
}
