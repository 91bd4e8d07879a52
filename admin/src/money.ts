/**
 * The one place that turns micro-unit strings into what a person reads.
 *
 * The API sends every amount as a string of integer micro-units next to its
 * unit (1 credit = 1 tool run = 1 USD = 1,000,000 micro-units). Nothing in the
 * console shows raw micro-units: format them here. All arithmetic is BigInt.
 */

export type Unit = "credits" | "tool_runs" | "usd";

export const MICROS_PER_UNIT = 1_000_000n;

/** Parses a micro-unit amount as the API sends it ("1234500000"); anything unreadable is 0. */
export function toMicros(value: string | number | bigint | null | undefined): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n;
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return BigInt(value.trim());
  return 0n;
}

const abs = (n: bigint) => (n < 0n ? -n : n);

const groupThousands = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/**
 * Micro-units to a decimal string with thousands separators: rounded half-up
 * (away from zero) to `maxDecimals`, padded to `minDecimals`, trailing zeros
 * trimmed in between.
 */
export function formatDecimal(micros: bigint, maxDecimals: number, minDecimals = 0): string {
  const negative = micros < 0n;
  let value = abs(micros);
  const drop = 6 - Math.min(6, Math.max(0, maxDecimals));
  if (drop > 0) {
    const step = 10n ** BigInt(drop);
    value = ((value + step / 2n) / step) * step;
  }
  const whole = value / MICROS_PER_UNIT;
  let fraction = (value % MICROS_PER_UNIT).toString().padStart(6, "0").slice(0, 6 - drop);
  while (fraction.length > minDecimals && fraction.endsWith("0")) fraction = fraction.slice(0, -1);
  const text = groupThousands(whole.toString()) + (fraction ? `.${fraction}` : "");
  return negative && value !== 0n ? `-${text}` : text;
}

const DISPLAY: Record<Unit, { maxDecimals: number; minDecimals: number; one: string; many: string }> = {
  credits: { maxDecimals: 2, minDecimals: 0, one: "credit", many: "credits" },
  tool_runs: { maxDecimals: 0, minDecimals: 0, one: "tool run", many: "tool runs" },
  usd: { maxDecimals: 2, minDecimals: 2, one: "USD", many: "USD" },
};

export interface FormatOptions {
  /** Show every micro-unit (up to 6 decimals) instead of the unit's usual rounding, e.g. in the ledger. */
  exact?: boolean;
}

/**
 * A micro-unit amount in its unit: "1,234.5 credits", "10,000 tool runs",
 * "$12.34". An amount too small for the usual rounding ("0.000123 credits")
 * is shown exactly rather than as zero.
 */
export function formatAmount(
  micros: string | number | bigint | null | undefined,
  unit: string | null | undefined,
  options: FormatOptions = {},
): string {
  const value = toMicros(micros);
  const display = DISPLAY[(unit ?? "") as Unit];
  if (!display) return `${formatDecimal(value, 6)}${unit ? ` ${unit}` : ""}`;
  let text = formatDecimal(value, options.exact ? 6 : display.maxDecimals, display.minDecimals);
  if (!options.exact && value !== 0n && /^-?[0.]+$/.test(text)) text = formatDecimal(value, 6, display.minDecimals);
  if (unit === "usd") return text.startsWith("-") ? `-$${text.slice(1)}` : `$${text}`;
  return `${text} ${text === "1" || text === "-1" ? display.one : display.many}`;
}

/** A unit's name for labels and selects. */
export function unitLabel(unit: string): string {
  return unit === "credits" ? "Credits" : unit === "tool_runs" ? "Tool runs" : unit === "usd" ? "USD" : unit;
}

/** Basis points (1/100 of a percent) as "12.34%". */
export function formatBasisPoints(basisPoints: number | string | null | undefined): string {
  const bp = toMicros(basisPoints as string | number);
  return `${formatDecimal(bp * 10_000n, 2)}%`;
}

/** part / whole as a percentage number for bars and charts (0 when whole is 0). */
export function percentOf(part: string | number | bigint, whole: string | number | bigint): number {
  const w = toMicros(whole);
  if (w === 0n) return 0;
  return Number((toMicros(part) * 1_000_000n) / w) / 10_000;
}

/** A micro-unit amount as a plain number of units, only for plotting (charts need numbers). */
export function microsToNumber(micros: string | number | bigint | null | undefined): number {
  const value = toMicros(micros);
  return Number(value / MICROS_PER_UNIT) + Number(value % MICROS_PER_UNIT) / 1_000_000;
}

/** A plotted number of units back to micro-units, for tooltips. */
export function numberToMicros(value: number): bigint {
  return BigInt(Math.round(value * 1_000_000));
}

const HUMAN_AMOUNT = /^([-+])?(\d{1,15})(?:\.(\d{1,6}))?$/;

/**
 * Checks a human amount typed in an action form ("500", "-2.5", "+30") the way the
 * gateway reads it: at most 6 decimals, not zero (unless `allowZero`, e.g. a
 * limit or a cap that "0" removes), signed only when allowed.
 * Returns an error message, or null when the amount is fine. The form sends
 * the trimmed string as it is; the gateway converts it exactly.
 */
export function checkHumanAmount(text: string, options: { signed?: boolean; allowZero?: boolean } = {}): string | null {
  const match = HUMAN_AMOUNT.exec(text.trim());
  if (!match) return "Enter a number with at most 6 decimals, like 500 or 2.5";
  const [, sign, whole = "0", fraction = ""] = match;
  const minus = sign === "-";
  const zero = BigInt(whole) === 0n && BigInt(fraction || "0") === 0n;
  if (options.allowZero) {
    if (minus && !zero && !options.signed) return "Must be 0 or more";
    return null;
  }
  if (zero) return "Must not be zero";
  if (minus && !options.signed) return "Must be positive";
  return null;
}

/**
 * A micro-unit amount as the plain human amount an action form takes
 * ("10000000" → "10", "2500000" → "2.5"): exact, no grouping, no unit. For
 * prefilling a form with a current value.
 */
export function microsToHuman(micros: string | number | bigint | null | undefined): string {
  return formatDecimal(toMicros(micros), 6).replace(/,/g, "");
}

/** A human amount to micro-units (for previews; the form still sends the string). */
export function humanToMicros(text: string): bigint | null {
  const match = HUMAN_AMOUNT.exec(text.trim());
  if (!match) return null;
  const [, sign, whole = "0", fraction = ""] = match;
  const micros = BigInt(whole) * MICROS_PER_UNIT + BigInt(fraction.padEnd(6, "0"));
  return sign === "-" ? -micros : micros;
}

const MICROS_KEY = /^(.*?)(_micros|Micros)$/;

/**
 * A JSON document (rate, plan document, audit before/after) with every
 * micro-unit field shown in whole units: `{ "creditsMicros": "3000000" }`
 * becomes `{ "credits": "3" }`, `amount_micros` becomes `amount`. Exact, up to
 * 6 decimals. Other fields are kept as they are.
 */
export function humanizeMicros(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(humanizeMicros);
  if (!value || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const match = MICROS_KEY.exec(key);
    const isAmount = (typeof v === "string" && /^-?\d+$/.test(v)) || (typeof v === "number" && Number.isInteger(v));
    if (match && match[1] && isAmount) out[match[1]] = formatDecimal(toMicros(v as string | number), 6).replace(/,/g, "");
    else out[key] = humanizeMicros(v);
  }
  return out;
}
