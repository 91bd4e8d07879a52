/** Statements with their values written in, for sending several in one round trip. */

/**
 * A statement with its values written in as literals, in the text form the
 * extended protocol would send them as parameters (so the same casts apply):
 * a transaction's statements then go to PostgreSQL together, one round trip
 * for its reads and one for its writes and the commit. Values are escaped
 * (E'' strings, arrays as array literals), never spliced raw.
 */
export function inline(text: string, values: readonly unknown[]): string {
  return text.replace(/\$(\d+)/g, (_match, n: string) => literal(values[Number(n) - 1]));
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  const raw = Array.isArray(value) ? arrayText(value) : typeof value === "object" ? JSON.stringify(value) : String(value);
  return `E'${raw.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

function arrayText(values: readonly unknown[]): string {
  const element = (v: unknown) => (v === null || v === undefined ? "NULL" : `"${String(v).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`);
  return `{${values.map(element).join(",")}}`;
}

/**
 * A statement to run prepared: PostgreSQL parses and plans its text once per
 * connection (`prepare … as text`), and each batch sends only
 * `execute name(values as literals)`. The text must be a constant: each
 * distinct text is a prepared statement kept on every connection.
 */
export interface Prepared {
  readonly text: string;
  readonly values: readonly unknown[];
}

export const prepared = (text: string, values: readonly unknown[]): Prepared => ({ text, values });

export type Statement = string | Prepared;

/** `execute name(…)` with the values written in. */
export function executeCall(name: string, values: readonly unknown[]): string {
  return `execute ${name}(${values.map(literal).join(", ")})`;
}
