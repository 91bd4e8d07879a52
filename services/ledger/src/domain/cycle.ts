/**
 * Billing cycles are calendar months anchored on the account's anchor day and
 * time (UTC). An anchor on the 31st falls on the last day of shorter months.
 */
export interface Cycle {
  start: Date;
  end: Date;
}

function atMonth(anchor: Date, year: number, month: number): Date {
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(year, month, Math.min(anchor.getUTCDate(), lastDay), anchor.getUTCHours(), anchor.getUTCMinutes(), anchor.getUTCSeconds()),
  );
}

export function cycleAt(anchor: Date, now: Date): Cycle {
  let year = now.getUTCFullYear();
  let month = now.getUTCMonth();
  let start = atMonth(anchor, year, month);
  if (start > now) {
    month -= 1;
    if (month < 0) {
      month = 11;
      year -= 1;
    }
    start = atMonth(anchor, year, month);
  }
  const nextMonth = month === 11 ? 0 : month + 1;
  const nextYear = month === 11 ? year + 1 : year;
  return { start, end: atMonth(anchor, nextYear, nextMonth) };
}

export interface CycleMetrics {
  daysElapsed: number;
  daysLeft: number;
  averagePerDayMicros: bigint;
  /** -1 when nothing has been used yet. */
  projectedDaysToEmpty: number;
  willRunOutBeforeCycleEnd: boolean;
}

const DAY_MS = 86_400_000;

/** Used / remaining projections for the console's metric cards (seed 002). */
export function cycleMetrics(cycle: Cycle, now: Date, usedMicros: bigint, remainingMicros: bigint): CycleMetrics {
  const elapsedMs = Math.max(0, now.getTime() - cycle.start.getTime());
  const leftMs = Math.max(0, cycle.end.getTime() - now.getTime());
  const daysElapsed = Math.floor(elapsedMs / DAY_MS);
  const daysLeft = Math.ceil(leftMs / DAY_MS);
  // Average over at least one day so the first hours do not project wildly.
  const averagePerDayMicros = usedMicros / BigInt(Math.max(1, Math.ceil(elapsedMs / DAY_MS)));
  if (averagePerDayMicros <= 0n) {
    return { daysElapsed, daysLeft, averagePerDayMicros: 0n, projectedDaysToEmpty: -1, willRunOutBeforeCycleEnd: false };
  }
  const projectedDaysToEmpty = remainingMicros <= 0n ? 0 : Number(remainingMicros / averagePerDayMicros);
  return { daysElapsed, daysLeft, averagePerDayMicros, projectedDaysToEmpty, willRunOutBeforeCycleEnd: projectedDaysToEmpty < daysLeft };
}
