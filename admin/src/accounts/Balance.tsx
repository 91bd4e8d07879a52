import { Box, Card, CardContent, Stack, Tooltip, Typography } from "@mui/material";
import type { LimitOverride, PoolBalance, UnitBalance } from "../api-types";
import { StatusIcon } from "../components/StatusIcon";
import { formatAmount, percentOf, toMicros, unitLabel } from "../money";
import { POOL_COLORS, POOL_KINDS, POOL_LABELS } from "./account-units";

interface PoolUse {
  kind: string;
  used: bigint;
  granted: bigint;
}

/** What each pool kind of one unit has used: granted − balance per pool, added up by kind. */
export function usedByKind(pools: PoolBalance[], unit: string): PoolUse[] {
  const byKind = new Map<string, PoolUse>();
  for (const pool of pools.filter((p) => p.unit === unit)) {
    const granted = toMicros(pool.granted_micros);
    const left = toMicros(pool.balance_micros);
    const entry = byKind.get(pool.kind) ?? { kind: pool.kind, used: 0n, granted: 0n };
    entry.used += granted > left ? granted - left : 0n;
    entry.granted += granted;
    byKind.set(pool.kind, entry);
  }
  const order = (k: string) => (POOL_KINDS as readonly string[]).indexOf(k) + 1 || 99;
  return [...byKind.values()].sort((a, b) => order(a.kind) - order(b.kind));
}

/** Used vs allotted as one bar, the used part split by pool kind. */
function UsageBar({ unit, uses, granted, used }: { unit: string; uses: PoolUse[]; granted: string; used: string }) {
  const percent = Math.min(100, percentOf(used, granted));
  return (
    <Box>
      <Box
        role="progressbar"
        aria-label={`${unitLabel(unit)} used`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(percent)}
        data-testid={`usage-bar-${unit}`}
        sx={{ display: "flex", height: 12, borderRadius: 6, overflow: "hidden", bgcolor: "grey.200" }}
      >
        {uses.map((u) =>
          u.used > 0n ? (
            <Tooltip key={u.kind} title={`${POOL_LABELS[u.kind] ?? u.kind}: ${formatAmount(u.used, unit)} used of ${formatAmount(u.granted, unit)}`}>
              <Box sx={{ width: `${Math.min(100, percentOf(u.used, granted))}%`, bgcolor: POOL_COLORS[u.kind] ?? "grey.500" }} />
            </Tooltip>
          ) : null,
        )}
      </Box>
      <Stack direction="row" spacing={2} sx={{ mt: 1, flexWrap: "wrap", rowGap: 0.5 }}>
        {uses.map((u) => (
          <Stack key={u.kind} direction="row" spacing={0.5} sx={{ alignItems: "center" }} data-testid={`pool-${u.kind}-${unit}`}>
            <Box sx={{ width: 10, height: 10, borderRadius: "50%", bgcolor: POOL_COLORS[u.kind] ?? "grey.500" }} />
            <Typography variant="caption">
              {POOL_LABELS[u.kind] ?? u.kind}: {formatAmount(u.used, unit)} of {formatAmount(u.granted, unit)}
            </Typography>
          </Stack>
        ))}
      </Stack>
    </Box>
  );
}

/** An account's own limits for one unit, in words: "Negative limit 50 credits · low-credit limit 10 credits (account override)". */
export function describeLimitOverride(limit: LimitOverride): string {
  return `Negative limit ${formatAmount(limit.negative_limit_micros, limit.unit)} · low-credit limit ${formatAmount(limit.low_credit_limit_micros, limit.unit)} (account override)`;
}

/** The effective limits of a unit whose plan limits the account overrides. */
function LimitsLine({ limit }: { limit: LimitOverride }) {
  return (
    <Typography variant="body2" color="text.secondary" data-testid={`limit-override-${limit.unit}`} sx={{ mb: 1.5 }}>
      {describeLimitOverride(limit)}
    </Typography>
  );
}

/** One unit's balance: the available figure, the status icon, its limits when the account overrides the plan's, and used vs allotted by pool kind. */
export function UnitBalanceCard({ balance, pools, primary, limit }: { balance: UnitBalance; pools: PoolBalance[]; primary: boolean; limit?: LimitOverride }) {
  const { unit } = balance;
  return (
    <Card variant="outlined" sx={{ flex: "1 1 320px" }} data-testid={`balance-card-${unit}`}>
      <CardContent>
        <Stack direction="row" spacing={1} sx={{ alignItems: "center", mb: 1 }}>
          <StatusIcon state={balance.status_icon} testId={primary ? "status-icon" : `status-icon-${unit}`} />
          <Typography variant="subtitle2" color="text.secondary">
            {unitLabel(unit)} available
          </Typography>
        </Stack>
        <Typography variant="h5" data-testid={`balance-${unit}`}>
          {formatAmount(balance.available_micros, unit)}
        </Typography>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1.5 }}>
          {formatAmount(balance.used_micros, unit)} used of {formatAmount(balance.granted_micros, unit)} ({percentOf(balance.used_micros, balance.granted_micros).toFixed(1)}%)
          {toMicros(balance.held_micros) !== 0n && ` · ${formatAmount(balance.held_micros, unit)} held`}
          {` · balance ${formatAmount(balance.balance_micros, unit)}`}
        </Typography>
        {limit && <LimitsLine limit={limit} />}
        <UsageBar unit={unit} uses={usedByKind(pools, unit)} granted={balance.granted_micros} used={balance.used_micros} />
      </CardContent>
    </Card>
  );
}

/** Balance per unit, side by side; the account's limit overrides with their unit (or below, for a unit with no balance yet). */
export function BalancePanel({ units, pools, primaryUnit, limitOverrides = [] }: { units: UnitBalance[]; pools: PoolBalance[]; primaryUnit: string; limitOverrides?: LimitOverride[] }) {
  const limitFor = (unit: string) => limitOverrides.find((l) => l.unit === unit);
  const elsewhere = limitOverrides.filter((l) => !units.some((u) => u.unit === l.unit));
  const orphans = elsewhere.length > 0 && (
    <Stack spacing={0.5}>
      {elsewhere.map((l) => (
        <Typography key={l.unit} variant="body2" color="text.secondary" data-testid={`limit-override-${l.unit}`}>
          {unitLabel(l.unit)}: {describeLimitOverride(l)}
        </Typography>
      ))}
    </Stack>
  );
  if (units.length === 0)
    return (
      <Stack spacing={1}>
        <Typography color="text.secondary">No balance yet.</Typography>
        {orphans}
      </Stack>
    );
  const primary = units.find((u) => u.unit === primaryUnit) ?? units[0]!;
  return (
    <Stack spacing={1}>
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2 }}>
        {units.map((u) => (
          <UnitBalanceCard key={u.unit} balance={u} pools={pools} primary={u === primary} limit={limitFor(u.unit)} />
        ))}
      </Stack>
      {orphans}
    </Stack>
  );
}
