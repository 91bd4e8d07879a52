import { projectRunOut, runOutAt, type UsageHistory } from "@tollgate/projection";

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
  /** Whole days until the balance runs out at the current rate; 0 when nothing is left; -1 without enough history to project. */
  projectedDaysToEmpty: number;
  willRunOutBeforeCycleEnd: boolean;
  /** When the balance runs out, if before the cycle ends. */
  runOutAt: Date | undefined;
}

const DAY_MS = 86_400_000;

/**
 * Used / remaining figures for the console's metric cards (seed 002) and the
 * run-out flag, by the one run-out rule notifications warns with
 * (@tollgate/projection): no projection without a day of history and five charges.
 */
export function cycleMetrics(cycle: Cycle, now: Date, history: Omit<UsageHistory, "cycleEnd">): CycleMetrics {
  const elapsedMs = Math.max(0, now.getTime() - cycle.start.getTime());
  const leftMs = Math.max(0, cycle.end.getTime() - now.getTime());
  const daysElapsed = Math.floor(elapsedMs / DAY_MS);
  const daysLeft = Math.ceil(leftMs / DAY_MS);
  // Average over at least one day so the first hours do not show wildly.
  const averagePerDayMicros = history.usedMicros / BigInt(Math.max(1, Math.ceil(elapsedMs / DAY_MS)));
  const full = { ...history, cycleEnd: cycle.end };
  const at = runOutAt(full, now);
  const warning = projectRunOut(full, now);
  const projectedDaysToEmpty =
    history.usedMicros > 0n && history.availableMicros <= 0n ? 0 : at ? Math.floor((at.getTime() - now.getTime()) / DAY_MS) : -1;
  return { daysElapsed, daysLeft, averagePerDayMicros, projectedDaysToEmpty, willRunOutBeforeCycleEnd: warning !== undefined, runOutAt: warning };
}
