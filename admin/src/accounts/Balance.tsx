import { Box, Card, CardContent, Stack, Tooltip, Typography } from "@mui/material";
import type { PoolBalance, UnitBalance } from "../api-types";
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

/** One unit's balance: the available figure, the status icon, and used vs allotted by pool kind. */
export function UnitBalanceCard({ balance, pools, primary }: { balance: UnitBalance; pools: PoolBalance[]; primary: boolean }) {
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
        <UsageBar unit={unit} uses={usedByKind(pools, unit)} granted={balance.granted_micros} used={balance.used_micros} />
      </CardContent>
    </Card>
  );
}

/** Balance per unit, side by side. */
export function BalancePanel({ units, pools, primaryUnit }: { units: UnitBalance[]; pools: PoolBalance[]; primaryUnit: string }) {
  if (units.length === 0) return <Typography color="text.secondary">No balance yet.</Typography>;
  const primary = units.find((u) => u.unit === primaryUnit) ?? units[0]!;
  return (
    <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2 }}>
      {units.map((u) => (
        <UnitBalanceCard key={u.unit} balance={u} pools={pools} primary={u === primary} />
      ))}
    </Stack>
  );
}
