import { Alert, Box, Card, CardContent, CardHeader, LinearProgress, MenuItem, Stack, TextField, ToggleButton, ToggleButtonGroup } from "@mui/material";
import { useMemo, useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { UsagePoint, UsageWindow } from "../api-types";
import { RESOURCES } from "../data-provider";
import { useTollgateQuery } from "../hooks";
import { describeError } from "../http";
import { formatAmount, formatDecimal, microsToNumber, numberToMicros } from "../money";
import { rowUnit } from "./TopTable";

export const CHART_COLORS = ["#1976d2", "#ef6c00", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#546e7a"];

const WINDOWS: { value: UsageWindow; label: string }[] = [
  { value: "24h", label: "24 h" },
  { value: "7d", label: "7 d" },
  { value: "30d", label: "30 d" },
];

const SPLITS: Record<string, string> = { surface: "Surface (web / CLI)", bucket: "Bucket" };

/** Points to one row per time slot with a column per key (numbers of units, for plotting only). */
export function pivotUsage(points: UsagePoint[]): { rows: Record<string, number | string>[]; keys: string[] } {
  const keys = [...new Set(points.map((p) => p.key || "(none)"))].sort();
  const bySlot = new Map<string, Record<string, number | string>>();
  for (const p of [...points].sort((a, b) => a.start.localeCompare(b.start))) {
    const row = bySlot.get(p.start) ?? { start: p.start };
    const key = p.key || "(none)";
    row[key] = (Number(row[key] ?? 0) || 0) + microsToNumber(p.amount_micros);
    bySlot.set(p.start, row);
  }
  const rows = [...bySlot.values()];
  for (const row of rows) for (const k of keys) row[k] ??= 0;
  return { rows, keys };
}

const tick = (period: UsageWindow) => (value: string) => {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return period === "24h" ? d.toLocaleTimeString("en-US", { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString("en-US", { month: "short", day: "numeric" });
};

export interface UsageChartProps {
  accountId: string;
  unit: string;
  title?: string;
  splits?: string[];
  defaultSplit?: string;
}

/** Usage over time (`/api/accounts/:id/usage`): a line per key, a 24 h / 7 d / 30 d toggle and a split-by selector. */
export function UsageChart({ accountId, unit, title = "Usage", splits = ["surface", "bucket"], defaultSplit = splits[0] ?? "surface" }: UsageChartProps) {
  const [period, setPeriod] = useState<UsageWindow>("7d");
  const [splitBy, setSplitBy] = useState(defaultSplit);
  const query = useTollgateQuery(["usage", accountId, period, splitBy], (p, signal) =>
    p.getAccountUsage(RESOURCES.accounts, { accountId, window: period, splitBy, signal }),
  );
  const { rows, keys } = useMemo(() => pivotUsage(query.data?.points ?? []), [query.data]);

  return (
    <Card variant="outlined" data-testid="usage-chart">
      <CardHeader
        title={title}
        slotProps={{ title: { variant: "subtitle1" } }}
        action={
          <Stack direction="row" spacing={1} sx={{ alignItems: "center" }}>
            <ToggleButtonGroup size="small" exclusive value={period} onChange={(_, v: UsageWindow | null) => v && setPeriod(v)} aria-label="Time window">
              {WINDOWS.map((w) => (
                <ToggleButton key={w.value} value={w.value} data-testid={`usage-window-${w.value}`} sx={{ whiteSpace: "nowrap", textTransform: "none", px: 1.5 }}>
                  {w.label}
                </ToggleButton>
              ))}
            </ToggleButtonGroup>
            {splits.length > 1 && (
              <TextField
                select
                size="small"
                label="Split by"
                value={splitBy}
                onChange={(e) => setSplitBy(e.target.value)}
                sx={{ minWidth: 160 }}
                slotProps={{ htmlInput: { "data-testid": "usage-split-by" } }}
              >
                {splits.map((s) => (
                  <MenuItem key={s} value={s}>
                    {SPLITS[s] ?? s}
                  </MenuItem>
                ))}
              </TextField>
            )}
          </Stack>
        }
      />
      {query.isPending && <LinearProgress />}
      <CardContent>
        {query.isError && <Alert severity="error">{describeError(query.error).message}</Alert>}
        {!query.isPending && !query.isError && rows.length === 0 && <Box sx={{ color: "text.secondary" }}>No usage in this window.</Box>}
        {rows.length > 0 && (
          <Box sx={{ width: "100%", height: 280 }}>
            <ResponsiveContainer>
              <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 8 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="start" tickFormatter={tick(period)} minTickGap={24} />
                <YAxis tickFormatter={(v: number) => formatDecimal(numberToMicros(v), 2)} width={72} />
                <Tooltip
                  labelFormatter={(label) => new Date(String(label)).toLocaleString("en-US")}
                  formatter={(value, name) => [formatAmount(numberToMicros(Number(value)), rowUnit(splitBy, String(name), unit)), String(name)]}
                />
                <Legend />
                {keys.map((k, i) => (
                  <Line key={k} type="monotone" dataKey={k} name={k} stroke={CHART_COLORS[i % CHART_COLORS.length]} dot={false} strokeWidth={2} />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </Box>
        )}
      </CardContent>
    </Card>
  );
}
