import type { Rate } from "@tollgate/rating";

/** Rates as stored in jsonb: bigint amounts become decimal strings. */
export function ratesToJson(rates: Rate[]): unknown[] {
  return JSON.parse(JSON.stringify(rates, (_key, value) => (typeof value === "bigint" ? value.toString() : value)));
}

const isAmountKey = (key: string) => /^micros|Micros/.test(key);

export function ratesFromJson(json: unknown[]): Rate[] {
  const revive = (value: unknown, amount: boolean): unknown => {
    if (Array.isArray(value)) return value.map((v) => revive(v, false));
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, revive(v, isAmountKey(key) || amount)]));
    }
    return amount && typeof value === "string" ? BigInt(value) : value;
  };
  return revive(json, false) as Rate[];
}
