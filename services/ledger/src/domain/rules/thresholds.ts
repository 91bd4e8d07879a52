/**
 * Thresholds that no longer hold, after a change that gave the unit room
 * again (a grant, an Adjust up, a reversal, a larger plan's allotment): the
 * crossed ones usage is now below (used × 100 < threshold × allotted). They
 * leave the crossed set, so usage reaching one again crosses it again.
 */
export function recessions(input: { allottedMicros: bigint; balanceMicros: bigint; crossedPercents: readonly number[] }): { crossed: number[]; receded: number[]; percentUsed: number } {
  const { allottedMicros, balanceMicros, crossedPercents } = input;
  if (allottedMicros <= 0n) return { crossed: [...crossedPercents], receded: [], percentUsed: 0 };
  const usedMicros = allottedMicros - balanceMicros;
  const below = (threshold: number) => usedMicros * 100n < BigInt(threshold) * allottedMicros;
  const percent = usedMicros <= 0n ? 0n : (usedMicros * 100n) / allottedMicros;
  return {
    crossed: crossedPercents.filter((threshold) => !below(threshold)),
    receded: crossedPercents.filter(below).sort((x, y) => x - y),
    percentUsed: Number(percent > 100_000n ? 100_000n : percent),
  };
}

/**
 * Threshold crossings: a charge that collects something emits
 * `threshold_crossed` for every plan threshold the cycle's usage has reached
 * (used × 100 ≥ threshold × allotted) and that was not crossed before this
 * cycle — once per threshold per cycle; rollover clears the crossed set.
 * `allotted` is what was granted into the live pools (auto reloads included),
 * `used` is allotted less the balance after the charge.
 */
export function crossings(input: {
  allottedMicros: bigint;
  balanceAfterMicros: bigint;
  collectedMicros: bigint;
  thresholdPercents: readonly number[];
  crossedPercents: readonly number[];
}): { crossed: number[]; events: { thresholdPercent: number; percentUsed: number }[] } {
  if (input.collectedMicros <= 0n) return { crossed: [...input.crossedPercents], events: [] };
  return reached({ allottedMicros: input.allottedMicros, balanceMicros: input.balanceAfterMicros, thresholdPercents: input.thresholdPercents, crossedPercents: input.crossedPercents });
}

/**
 * The plan thresholds the cycle's usage has reached and that were not
 * crossed yet: after a charge (`crossings`), or after pools expired and took
 * their room with them, leaving what was used a larger share of what is left.
 */
export function reached(input: {
  allottedMicros: bigint;
  balanceMicros: bigint;
  thresholdPercents: readonly number[];
  crossedPercents: readonly number[];
}): { crossed: number[]; events: { thresholdPercent: number; percentUsed: number }[] } {
  const { allottedMicros, balanceMicros, thresholdPercents, crossedPercents } = input;
  const crossed = [...crossedPercents];
  const events: { thresholdPercent: number; percentUsed: number }[] = [];
  if (allottedMicros <= 0n) return { crossed, events };
  const usedMicros = allottedMicros - balanceMicros;
  for (const threshold of thresholdPercents) {
    if (usedMicros * 100n >= BigInt(threshold) * allottedMicros && !crossed.includes(threshold)) {
      const percent = (usedMicros * 100n) / allottedMicros;
      events.push({ thresholdPercent: threshold, percentUsed: Number(percent > 100_000n ? 100_000n : percent) });
      crossed.push(threshold);
    }
  }
  return { crossed, events };
}
