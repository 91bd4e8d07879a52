import type { NewestFirstCursor } from "@tollgate/db";
import { InvalidArgumentError } from "@tollgate/errors";

export const DEFAULT_PAGE_SIZE = 50;

const NOT_OUR_TOKEN = "is not a page token this service handed out";
export const MAX_PAGE_SIZE = 500;

/** The page size a list RPC serves: the default when unset, INVALID_ARGUMENT when out of range. */
export function pageSize(requested: number | undefined): number {
  if (!requested) return DEFAULT_PAGE_SIZE;
  if (requested < 0 || requested > MAX_PAGE_SIZE) throw new InvalidArgumentError("page.page_size", `must be between 1 and ${MAX_PAGE_SIZE}`);
  return requested;
}

/** Encoded bytes a page of a list answer may fill, far below gRPC's 4 MiB message limit. */
export const MAX_PAGE_BYTES = 2 * 1024 * 1024;

/** An item's encoded size, for `page`'s byte budget: `encodedSize(ledgerV1.Hold)`. */
export function encodedSize<T>(type: { encode(message: T): { finish(): Uint8Array } }): (message: T) => number {
  return (message) => type.encode(message).finish().length;
}

/** A numeric page token (an offset or a version): digits only; "" is the start. */
export function pageOffset(token: string | undefined): number {
  if (!token) return 0;
  if (!/^\d{1,15}$/.test(token)) throw new InvalidArgumentError("page.page_token", NOT_OUR_TOKEN);
  return Number(token);
}

/** What an opaque page token holds (base64url of JSON, at most 4,096 characters); undefined when it holds nothing readable. */
function decodedToken(token: string): unknown {
  try {
    return /^[A-Za-z0-9_-]{1,4096}$/.test(token) ? JSON.parse(Buffer.from(token, "base64url").toString("utf8")) : undefined;
  } catch {
    return undefined;
  }
}

/** The page token of a list ordered by a text key (accounts, subjects): the last row's key, opaque (base64url). */
export function keyToken(key: string): string {
  return Buffer.from(JSON.stringify(["key", key])).toString("base64url");
}

/** The key a `keyToken` names; "" for "" (the first page), INVALID_ARGUMENT for anything this service did not hand out. */
export function tokenKey(token: string | undefined): string {
  if (!token) return "";
  const parts = decodedToken(token);
  if (!Array.isArray(parts) || parts.length !== 2 || parts[0] !== "key" || typeof parts[1] !== "string" || parts[1] === "" || /\p{Cc}/u.test(parts[1])) {
    throw new InvalidArgumentError("page.page_token", NOT_OUR_TOKEN);
  }
  return parts[1];
}

/** The opaque page token for a cursor (base64url, so it travels in a URL as is). */
export function cursorToken(cursor: NewestFirstCursor): string {
  return Buffer.from(JSON.stringify([String(cursor.createdAtMicros), cursor.accountId, cursor.id])).toString("base64url");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The cursor a page token stands for; undefined for "" (the first page),
 * INVALID_ARGUMENT for anything this service did not hand out. `ids`:
 * `uuid` for a list keyed by UUIDs (holds, notifications), so an edited
 * token never reaches the database as a malformed value.
 */
export function tokenCursor(token: string | undefined, ids: "uuid" | "text" = "text"): NewestFirstCursor | undefined {
  if (!token) return undefined;
  const parts = decodedToken(token);
  if (!Array.isArray(parts) || parts.length !== 3 || !parts.every((part) => typeof part === "string")) throw new InvalidArgumentError("page.page_token", NOT_OUR_TOKEN);
  const [micros, accountId, id] = parts as [string, string, string];
  const text = (part: string) => part.length > 0 && part.length <= 128 && !/\p{Cc}/u.test(part);
  if (!/^\d{1,17}$/.test(micros) || !text(accountId) || !text(id) || (ids === "uuid" && !UUID.test(id))) throw new InvalidArgumentError("page.page_token", NOT_OUR_TOKEN);
  return { createdAtMicros: BigInt(micros), accountId, id };
}

/**
 * Splits rows fetched with one extra into a page and the cursor after its
 * last row (empty when no more). With `bytesOf` (an item's encoded size), a
 * page also ends before it passes MAX_PAGE_BYTES (it always carries at least
 * one item), so a page stays below the message limit whatever the data.
 */
export function page<T>(
  rows: T[],
  size: number,
  cursorOf: (row: T, count: number) => string,
  bytesOf?: (row: T) => number,
): { items: T[]; nextPageToken: string } {
  let items = rows.slice(0, size);
  if (bytesOf) {
    let bytes = 0;
    const fits = items.findIndex((row, index) => (bytes += bytesOf(row)) > MAX_PAGE_BYTES && index > 0);
    if (fits >= 0) items = items.slice(0, fits);
  }
  const more = rows.length > items.length;
  return { items, nextPageToken: more ? cursorOf(items[items.length - 1]!, items.length) : "" };
}

/**
 * A page of a newest-first list (rows fetched with one extra, each with its
 * cursor) and the token of the page after it; see `page` for the byte budget.
 */
export function newestFirstPage<T>(
  rows: { item: T; cursor: NewestFirstCursor }[],
  size: number,
  bytesOf?: (item: T) => number,
): { items: T[]; nextPageToken: string } {
  const { items, nextPageToken } = page(rows, size, (row) => cursorToken(row.cursor), bytesOf && ((row) => bytesOf(row.item)));
  return { items: items.map((row) => row.item), nextPageToken };
}

/**
 * A list filtered by an account whose page is empty is NOT_FOUND when the
 * account does not exist: a mistyped id is not an empty history, whatever
 * page token came with it. `requireAccount` throws NOT_FOUND for an account
 * the platform does not have; it is asked only then, so a page with rows
 * costs no look-up.
 */
export async function requireKnownWhenEmpty(requireAccount: (accountId: string) => Promise<unknown>, accountId: string, rows: readonly unknown[]): Promise<void> {
  if (accountId && rows.length === 0) await requireAccount(accountId);
}
