import type { LedgerLine } from "../api-types";

/**
 * What an entry did to the account's balance, in micro-units: the sum of its lines on the account's pools. One sign for
 * every kind (a charge and a downward adjustment take, a grant and a reversal give back), where the entry's own amount
 * follows its kind (a charge's is what it collected, a reversal's what it returned, negated).
 */
export function balanceEffectOf(lines: readonly LedgerLine[]): string {
  return lines.reduce((sum, line) => (line.pool_id ? sum + BigInt(line.amount_micros) : sum), 0n).toString();
}
