import { Alert, Box, Card, CardContent, CardHeader, LinearProgress, Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";
import { useRecordContext } from "react-admin";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { Account, MemberUsageAmounts } from "../api-types";
import { EmptyState } from "../components/EmptyState";
import { RESOURCES } from "../data-provider";
import { useTollgateQuery } from "../hooks";
import { describeError } from "../http";
import { formatAmount, microsToNumber, numberToMicros } from "../money";
import { primaryUnit } from "./account-units";

/** Seed 000's three buckets, each its own segment of the stacked bar. */
const SEGMENTS = [
  { key: "ai_micros", label: "AI credits", color: "#1976d2" },
  { key: "compute_micros", label: "Compute credits", color: "#ef6c00" },
  { key: "platform_micros", label: "Platform credits", color: "#2e7d32" },
] as const;

const TEAM = "Team";

/**
 * The team admin's usage breakdown (seed 000): a stacked bar per member and
 * one for the team as a whole, with AI, compute and platform segments, over
 * the current cycle; the exact amounts in the table below.
 */
export function MembersTab() {
  const account = useRecordContext<Account>();
  const accountId = account ? String(account.id) : "";
  const unit = primaryUnit(account);
  const query = useTollgateQuery(["member-usage", accountId, unit], (p, signal) => p.getMemberUsage(RESOURCES.accounts, { accountId, unit, signal }), Boolean(account));
  if (!account) return null;
  const usage = query.data;
  const rows: (MemberUsageAmounts & { name: string })[] = usage ? [{ name: TEAM, ...usage.team }, ...usage.data.map((m) => ({ name: m.user_id || "(no member)", ...m }))] : [];
  const chart = rows.map((r) => ({ name: r.name, ...Object.fromEntries(SEGMENTS.map((s) => [s.key, microsToNumber(r[s.key])])) }));
  return (
    <Card variant="outlined" sx={{ my: 1 }} data-testid="member-usage">
      <CardHeader
        title="Usage by member"
        subheader={usage?.since ? `This cycle, since ${new Date(usage.since).toLocaleDateString("en-US")}` : undefined}
        slotProps={{ title: { variant: "subtitle1" } }}
      />
      {query.isPending && <LinearProgress />}
      <CardContent sx={{ pt: 0 }}>
        {query.isError && <Alert severity="error">{describeError(query.error).message}</Alert>}
        {usage && usage.data.length === 0 ? (
          <EmptyState title="No usage by members this cycle." hint="Charges attributed to a user (user_id) show here, split into AI, compute and platform credits." />
        ) : usage ? (
          <>
            <Box sx={{ height: Math.max(160, 48 * chart.length + 60) }} data-testid="member-usage-chart">
              <ResponsiveContainer>
                <BarChart data={chart} layout="vertical" margin={{ left: 24 }}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis type="number" />
                  <YAxis type="category" dataKey="name" width={120} />
                  <Tooltip formatter={(value, name) => [formatAmount(numberToMicros(Number(value)), unit), String(name)]} />
                  <Legend />
                  {SEGMENTS.map((s) => (
                    <Bar key={s.key} dataKey={s.key} name={s.label} stackId="buckets" fill={s.color} />
                  ))}
                </BarChart>
              </ResponsiveContainer>
            </Box>
            <Table size="small">
              <TableHead>
                <TableRow>
                  <TableCell>Member</TableCell>
                  {SEGMENTS.map((s) => (
                    <TableCell key={s.key} align="right">
                      {s.label}
                    </TableCell>
                  ))}
                  <TableCell align="right">Total</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {rows.map((r) => (
                  <TableRow key={r.name} data-testid={r.name === TEAM ? "member-usage-team" : "member-usage-row"} data-member={r.name}>
                    <TableCell>
                      <Typography variant="body2" sx={{ fontWeight: r.name === TEAM ? 600 : undefined }}>
                        {r.name}
                      </Typography>
                    </TableCell>
                    {SEGMENTS.map((s) => (
                      <TableCell key={s.key} align="right" data-testid={`member-${s.key.replace("_micros", "")}`}>
                        {formatAmount(r[s.key], unit, { exact: true })}
                      </TableCell>
                    ))}
                    <TableCell align="right" data-testid="member-total">
                      {formatAmount(r.total_micros, unit, { exact: true })}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </>
        ) : null}
      </CardContent>
    </Card>
  );
}
