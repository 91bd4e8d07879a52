import { formatMicros } from "@tollgate/rating";
import type { entryView } from "./views.js";

type EntryView = ReturnType<typeof entryView>;

/** The most entries one CSV export holds (the newest); narrow it by kind, hold or attribution for more. */
export const MAX_EXPORT_ROWS = 100_000;

/** The export's columns, in order: each entry as the API shows it, amounts also in whole units. */
const COLUMNS: readonly [string, (e: EntryView) => string][] = [
  ["entry_id", (e) => e.id],
  ["created_at", (e) => e.created_at ?? ""],
  ["occurred_at", (e) => e.occurred_at ?? ""],
  ["account_id", (e) => e.account_id],
  ["kind", (e) => e.kind],
  ["unit", (e) => e.unit],
  ["bucket", (e) => e.bucket],
  ["amount", (e) => formatMicros(e.amount_micros)],
  ["amount_micros", (e) => e.amount_micros],
  ["uncollected_micros", (e) => e.uncollected_micros],
  ["hold_id", (e) => e.hold_id],
  ["reason", (e) => e.reason],
  ["actor", (e) => e.actor],
  ["on_behalf_of", (e) => e.on_behalf_of],
  ["attribution", (e) => Object.entries(e.attribution).map(([key, value]) => `${pairText(key)}=${pairText(value)}`).join("; ")],
  ["rate_table_id", (e) => e.rate_table_id],
  ["rate_table_version", (e) => e.rate_table_version],
  ["reverses_entry_id", (e) => e.reverses_entry_id ?? ""],
  ["trace_id", (e) => e.trace_id],
];
/**
 * A key or value of the attribution column, with the characters that write
 * its `key=value; …` shape percent-encoded (`%`, `;`, `=`), so a value such
 * as `mallory; workspace_id=ws-victim` cannot read as another dimension.
 */
const pairText = (text: string): string => text.replace(/[%;=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Columns whose text comes from people (reasons, names): guarded against spreadsheet formulas. */
const TEXT = new Set(["reason", "actor", "on_behalf_of", "attribution", "hold_id", "account_id", "rate_table_id"]);

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break. Text a person typed that a spreadsheet would run as a formula
 * (`=`, `+`, `-`, `@`, tab, CR first) gets a leading apostrophe (OWASP's
 * CSV injection advice); amounts keep their sign.
 */
export function csvField(value: string, text = true): string {
  const safe = text && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const ENTRY_CSV_HEADER = `${COLUMNS.map(([name]) => name).join(",")}\r\n`;


/** The last line of an export that stopped at its limit: said in the file, where the reader is. */
export const ENTRY_CSV_TRUNCATED = `${COLUMNS.map(([name]) =>
  csvField(name === "entry_id" ? "(truncated)" : name === "reason" ? `the export stops at ${MAX_EXPORT_ROWS} entries: narrow it by kind, hold or attribution` : ""),
).join(",")}\r\n`;

export function entryCsvLine(entry: EntryView): string {
  return `${COLUMNS.map(([name, value]) => csvField(value(entry), TEXT.has(name))).join(",")}\r\n`;
}
