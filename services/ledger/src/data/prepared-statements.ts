import { createHash } from "node:crypto";
import { executeCall, inline, type Statement } from "./sql-literals.js";

/**
 * The part of a `pg` client a sender uses: its callback form. Awaited
 * through `pg`'s own promise form, a batch's result rows outlived the batch
 * in V8's young generation — bench/store.ts promoted 761 KB per young
 * collection against 13 KB through the callback (bench/README.md,
 * "Following the chain further").
 */
export interface QueryClient {
  query(text: string, callback: (error: Error | undefined, result: unknown) => void): void;
}

/** More distinct texts than the store has means one was not constant: the rest run unprepared rather than fill the connection. */
const MOST_PER_CONNECTION = 64;

/**
 * Sends several statements to a connection in one message (one round trip),
 * preparing each `Prepared` text the first time that connection meets it and
 * running it as `execute` from then on.
 *
 * Planning was most of PostgreSQL's work per batch: the batch read plans in
 * about 1.6 ms and runs in 0.6 ms on 10,000 accounts. A prepared statement is
 * planned once (a transaction that sets `plan_cache_mode` to
 * `force_generic_plan` makes it keep one generic plan), so its texts are
 * written to plan well without their values: no constant a custom plan would
 * fold away.
 *
 * A message that prepares and then fails leaves it unknown which statements
 * the connection now has: `mustDiscard` then says the connection should be
 * released as broken rather than reused.
 */
export class PreparedStatements {
  private readonly names = new Map<string, string>();
  private readonly preparedOn = new WeakMap<object, Set<string>>();
  private readonly unknown = new WeakSet<object>();

  async send(client: QueryClient, statements: readonly Statement[]): Promise<unknown[][]> {
    const known = this.preparedOn.get(client) ?? new Set<string>();
    const preparing: string[] = [];
    const texts: string[] = [];
    for (const statement of statements) {
      if (typeof statement === "string") {
        texts.push(statement);
        continue;
      }
      const name = this.nameOf(statement.text);
      if (!known.has(name) && !preparing.includes(name)) {
        if (known.size + preparing.length >= MOST_PER_CONNECTION) {
          texts.push(inline(statement.text, statement.values));
          continue;
        }
        preparing.push(name);
        texts.push(`prepare ${name} as ${statement.text}`);
      }
      texts.push(executeCall(name, statement.values));
    }
    let result: unknown;
    try {
      result = await new Promise((resolve, reject) => client.query(texts.join(";\n"), (error, answer) => (error ? reject(error) : resolve(answer))));
    } catch (error) {
      if (preparing.length > 0) this.unknown.add(client);
      throw error;
    }
    if (preparing.length > 0) {
      for (const name of preparing) known.add(name);
      this.preparedOn.set(client, known);
    }
    const results = Array.isArray(result) ? result : [result];
    // `prepare` answers too: keep only what the statements asked for, in their order.
    const rows: unknown[][] = [];
    let at = 0;
    for (const text of texts) {
      const answer = results[at++] as { rows: unknown[] };
      if (!text.startsWith("prepare ")) rows.push(answer.rows);
    }
    return rows;
  }

  /** Whether the connection's prepared statements are unknown (a message that prepared failed). */
  mustDiscard(client: object): boolean {
    return this.unknown.has(client);
  }

  private nameOf(text: string): string {
    let name = this.names.get(text);
    if (!name) {
      name = `ledger_${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
      this.names.set(text, name);
    }
    return name;
  }
}
