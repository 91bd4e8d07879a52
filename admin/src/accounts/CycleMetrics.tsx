import { Alert, Card, CardContent, Stack, Typography } from "@mui/material";
import type { Cycle } from "../api-types";
import { formatAmount, toMicros } from "../money";

const day = (iso: string | null) => (iso ? new Date(iso).toLocaleDateString("en-US", { year: "numeric", month: "short", day: "numeric" }) : "—");
const days = (n: number) => `${n} ${n === 1 ? "day" : "days"}`;

/** "Run out in": the projection in whole days ("under a day" for 0), or "Not running out" when nothing projects (no usage, or under a day and five charges of history: the API sends -1). */
export function runOutText(cycle: Cycle): string {
  const projected = cycle.projected_days_to_empty;
  if (projected === null || projected === undefined || projected < 0 || toMicros(cycle.average_per_day_micros) === 0n) return "Not running out";
  return projected === 0 ? "Under a day" : days(projected);
}

function Metric({ testId, label, value, hint }: { testId: string; label: string; value: string; hint?: string }) {
  return (
    <Card variant="outlined" sx={{ flex: "1 1 160px" }} data-testid={testId}>
      <CardContent>
        <Typography variant="caption" color="text.secondary">
          {label}
        </Typography>
        <Typography variant="h6" data-testid={`${testId}-value`}>
          {value}
        </Typography>
        {hint && (
          <Typography variant="caption" color="text.secondary">
            {hint}
          </Typography>
        )}
      </CardContent>
    </Card>
  );
}

/** The four cycle cards: days remaining, days elapsed, average per day, run out in. */
export function CycleMetrics({ cycle, unit }: { cycle: Cycle; unit: string }) {
  return (
    <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2 }}>
      <Metric testId="metric-days-left" label="Days remaining" value={days(cycle.days_left)} hint={`Cycle ends ${day(cycle.cycle_end)}`} />
      <Metric testId="metric-days-elapsed" label="Days elapsed" value={days(cycle.days_elapsed)} hint={`Since ${day(cycle.cycle_start)}`} />
      <Metric testId="metric-avg-per-day" label="Avg per day" value={formatAmount(cycle.average_per_day_micros, unit)} />
      <Metric testId="metric-run-out-in" label="Run out in" value={runOutText(cycle)} />
    </Stack>
  );
}

/** Shown when the account will run out before its cycle ends. */
export function RunOutWarning({ cycle }: { cycle: Cycle }) {
  if (!cycle.will_run_out_before_cycle_end) return null;
  return (
    <Alert severity="warning" data-testid="run-out-warning">
      At the current rate this account runs out {cycle.run_out_at ? `on ${day(cycle.run_out_at)}` : `in ${runOutText(cycle).toLowerCase()}`}, before its cycle ends on {day(cycle.cycle_end)} ({days(cycle.days_left)} left).
      Consider a grant or a plan upgrade.
    </Alert>
  );
}
