import { InvalidArgumentError } from "@tollgate/errors";
import { MICROS_PER_UNIT } from "@tollgate/rating";

/** Every decimal of this many significant digits survives a JSON number (a double) exactly. */
const EXACT_DIGITS = 15;
/** The platform's largest amount in any field: 10^15 micro-units (a billion credits). */
const MAX_MICROS = 10n ** 15n;
const MAX_TEXT = "1000000000";

/**
 * A human amount ("500", "-2.5", "+30", "0.000001") in whole units to integer
 * micro-units, exactly: at most six decimals, no floats, no exponent.
 * Positive unless `signed`; zero only with `zero` (a limit or cap of 0).
 * A JSON number is taken only when it cannot have lost digits on the way
 * (at most 15 significant ones); larger amounts travel as strings.
 */
export function parseAmount(text: unknown, field: string, options: { signed?: boolean; zero?: boolean } = {}): bigint {
  if (typeof text !== "string" && typeof text !== "number") throw new InvalidArgumentError(field, "is required");
  const value = String(text).trim();
  const beyond = options.signed ? `must be from -${MAX_TEXT} to ${MAX_TEXT} in whole units` : `must be at most ${MAX_TEXT} in whole units`;
  if (typeof text === "number" && !(Math.abs(text) <= Number(MAX_MICROS / MICROS_PER_UNIT))) throw new InvalidArgumentError(field, beyond);
  if (typeof text === "number" && value.replace(/[-.]/g, "").replace(/^0+/, "").length > EXACT_DIGITS) {
    throw new InvalidArgumentError(field, `a JSON number may have at most ${EXACT_DIGITS} significant digits (a number loses digits beyond that): send it as a string, like "123456789.123456"`);
  }
  // A leading + is taken as a leading - is ("+30" for credits given, "-30" taken back), as is space around the digits a form keeps.
  const match = /^([-+])?(\d{1,15})(?:\.(\d{1,6}))?$/.exec(value);
  if (!match) throw new InvalidArgumentError(field, "must be a number with at most 6 decimals, like 500 or 2.5");
  const [, sign, whole, fraction = ""] = match;
  const minus = sign === "-";
  const micros = BigInt(whole!) * MICROS_PER_UNIT + BigInt(fraction.padEnd(6, "0"));
  if (micros > MAX_MICROS) throw new InvalidArgumentError(field, beyond);
  if (micros === 0n && !options.zero) throw new InvalidArgumentError(field, "must not be zero");
  if (minus && micros !== 0n && !options.signed) throw new InvalidArgumentError(field, options.zero ? "must be zero or more" : "must be positive");
  return minus ? -micros : micros;
}
