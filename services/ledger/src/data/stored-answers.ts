/**
 * Answers recorded under idempotency keys, as jsonb. The state machine's
 * answers carry bigints: they are stored tagged (`{"$bigint": "…"}`) inside
 * `{"v": 2, "answer": …}`, so a replay answers exactly what was answered.
 * Records written by the SQL functions of earlier releases (flat, amounts as
 * strings) are read as the state machine's answers, so a key answered before
 * an upgrade replays after it.
 */

const TAG = "$bigint";

function tag(value: unknown): unknown {
  if (typeof value === "bigint") return { [TAG]: value.toString() };
  if (Array.isArray(value)) return value.map(tag);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tag(v)]));
  return value;
}

function untag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untag);
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === TAG && typeof entries[0]![1] === "string") return BigInt(entries[0]![1]);
    return Object.fromEntries(entries.map(([k, v]) => [k, untag(v)]));
  }
  return value;
}

/**
 * Beside the answer, what the call made, where support search looks for it
 * (`entry_id` of a charge, grant or adjustment, `hold_id` of an
 * authorization).
 */
export function encodeAnswer(answer: unknown): unknown {
  const made = answer !== null && typeof answer === "object" ? (answer as { entryId?: unknown; holdId?: unknown }) : {};
  return {
    v: 2,
    answer: tag(answer),
    ...(typeof made.entryId === "bigint" && made.entryId > 0n ? { entry_id: made.entryId.toString() } : {}),
    ...(typeof made.holdId === "string" ? { hold_id: made.holdId } : {}),
  };
}

type Flat = Record<string, unknown>;
const big = (value: unknown) => BigInt(typeof value === "string" || typeof value === "number" ? value : 0);
const ms = (value: unknown) => (typeof value === "string" ? Date.parse(value) : null);

/** An earlier release's flat record, by the operation that wrote it. */
function fromFlat(operation: string, r: Flat): unknown {
  switch (operation) {
    case "authorize":
      return {
        allowed: r.allowed === true, reason: r.reason ?? null, message: "", holdId: r.hold_id ?? null, amountMicros: big(r.amount_micros),
        availableMicros: big(r.available_micros), expiresAtMs: ms(r.expires_at), metered: true,
      };
    case "charge":
      return {
        entryId: big(r.entry_id), chargedMicros: big(r.charged_micros), uncollectedMicros: big(r.uncollected_micros), releasedMicros: big(r.released_micros),
        balanceMicros: big(r.balance_micros), proceed: r.proceed === true,
      };
    case "release":
      return { releasedMicros: big(r.released_micros), status: r.status };
    case "grant":
      return { poolId: r.pool_id, entryId: big(r.entry_id), balanceMicros: big(r.balance_micros) };
    case "adjust":
      return { entryId: big(r.entry_id), balanceMicros: big(r.balance_micros) };
    case "start_run":
    case "start_deployment":
      return { allowed: r.allowed === true, reason: r.reason ?? null, availableMicros: big(r.available_micros) };
    default:
      return r;
  }
}

export function decodeAnswer(operation: string, stored: unknown): unknown {
  if (stored !== null && typeof stored === "object" && (stored as Flat).v === 2 && "answer" in (stored as Flat)) return untag((stored as Flat).answer);
  return stored !== null && typeof stored === "object" ? fromFlat(operation, stored as Flat) : stored;
}
