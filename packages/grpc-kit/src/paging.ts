import { createHash } from "node:crypto";
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

/** A numeric page token (an offset or a version): digits only (a `numbersToken` of one); "" is the start. */
export function pageOffset(token: string | undefined): number {
  return token ? tokenNumbers(token, 1)[0]! : 0;
}

/** JSON.stringify's replacer for a stable form: an object's keys sorted, 64-bit integers as text (a Date is its text already). */
function stable(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * What a list's page token is handed out for: the list and every field of
 * its request but the page (its filters), as a short digest. A position
 * means something only in the list that gave it: a token from another list,
 * or from the same list with other filters, would start a page at an
 * unrelated row and skip or repeat rows without a word.
 */
export function pageScope(list: string, request: object): string {
  const { page: _page, ...filters } = request as { page?: unknown };
  return createHash("sha256").update(JSON.stringify([list, filters], stable)).digest("base64url").slice(0, 12);
}

/** `position` (a list's own token; "" for none) bound to its scope: `<scope>~<position>`. */
export function scopedToken(scope: string, position: string): string {
  return position && `${scope}~${position}`;
}

/**
 * The position a `scopedToken` holds; "" for "" (the first page).
 * INVALID_ARGUMENT (`field`) for a token handed out for another list or
 * other filters (as AIP-158 asks), and for anything else not handed out.
 */
export function tokenPosition(scope: string, token: string | undefined, field = "page.page_token"): string {
  if (!token) return "";
  const at = token.indexOf("~");
  // No scope, or no position: nothing a page handed out ("" is the first page's, and it has no token).
  if (at <= 0 || at === token.length - 1) throw new InvalidArgumentError(field, NOT_OUR_TOKEN);
  if (token.slice(0, at) !== scope) throw new InvalidArgumentError(field, "was handed out for another list or other filters: start again from the first page");
  return token.slice(at + 1);
}

/** A page token of whole numbers (an offset, and the moments a report reads as of), joined by dots. */
export function numbersToken(numbers: readonly number[]): string {
  return numbers.join(".");
}

/** The `count` whole numbers a `numbersToken` holds; INVALID_ARGUMENT for anything else. */
export function tokenNumbers(token: string, count: number): number[] {
  const parts = token.split(".");
  if (parts.length !== count || !parts.every((part) => /^\d{1,15}$/.test(part))) throw new InvalidArgumentError("page.page_token", NOT_OUR_TOKEN);
  return parts.map(Number);
}

/** What an opaque page token holds (base64url of JSON, at most 4,096 characters); undefined when it holds nothing readable. */
function decodedToken(token: string): unknown {
  try {
    return /^[A-Za-z0-9_-]{1,4096}$/.test(token) ? JSON.parse(Buffer.from(token, "base64url").toString("utf8")) : undefined;
  } catch {
    return undefined;
  }
}

/** A row's id or key as a token may hold it: 1 to 128 characters, no control character (an edited token reaches no query otherwise). */
const keyPart = (part: unknown): part is string => typeof part === "string" && part.length > 0 && part.length <= 128 && !/\p{Cc}/u.test(part);

/** The page token of a list ordered by text keys (accounts by id; subjects by id, then kind): the last row's keys, opaque (base64url). */
export function keyToken(...keys: string[]): string {
  return Buffer.from(JSON.stringify(["key", ...keys])).toString("base64url");
}

/** The `count` keys a `keyToken` names; none for "" (the first page), INVALID_ARGUMENT for anything this service did not hand out. */
export function tokenKeys(token: string | undefined, count: number): string[] {
  if (!token) return [];
  const parts = decodedToken(token);
  if (!Array.isArray(parts) || parts.length !== count + 1 || parts[0] !== "key" || !parts.slice(1).every(keyPart)) throw notOurToken();
  return parts.slice(1) as string[];
}

/** The one key a `keyToken` names; "" for "" (the first page). */
export function tokenKey(token: string | undefined): string {
  return tokenKeys(token, 1)[0] ?? "";
}

/** The refusal of a page token this service did not hand out. */
export function notOurToken(): InvalidArgumentError {
  return new InvalidArgumentError("page.page_token", NOT_OUR_TOKEN);
}

/** The opaque page token for a cursor (base64url, so it travels in a URL as is). */
export function cursorToken(cursor: NewestFirstCursor): string {
  return Buffer.from(JSON.stringify([String(cursor.createdAtMicros), cursor.accountId, cursor.id])).toString("base64url");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A positive 64-bit id (a bigserial's), in its decimal digits. */
const isBigintId = (id: string): boolean => /^[1-9]\d{0,18}$/.test(id) && BigInt(id) <= 0x7fffffffffffffffn;

/**
 * The cursor a page token stands for; undefined for "" (the first page),
 * INVALID_ARGUMENT for anything this service did not hand out. `ids`:
 * `uuid` for a list keyed by UUIDs (holds, notifications), `bigint` for one
 * keyed by 64-bit ids (entries), so an edited token never reaches the
 * database as a malformed value.
 */
export function tokenCursor(token: string | undefined, ids: "uuid" | "bigint" | "text" = "text"): NewestFirstCursor | undefined {
  if (!token) return undefined;
  const parts = decodedToken(token);
  if (!Array.isArray(parts) || parts.length !== 3 || !parts.every((part) => typeof part === "string")) throw new InvalidArgumentError("page.page_token", NOT_OUR_TOKEN);
  const [micros, accountId, id] = parts as [string, string, string];
  if (!/^\d{1,17}$/.test(micros) || !keyPart(accountId) || !keyPart(id) || (ids === "uuid" && !UUID.test(id)) || (ids === "bigint" && !isBigintId(id))) throw notOurToken();
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
