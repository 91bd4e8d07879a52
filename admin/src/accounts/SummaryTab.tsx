import { Stack } from "@mui/material";
import { useRecordContext } from "react-admin";
import type { Account } from "../api-types";
import { TopTable } from "../components/TopTable";
import { UsageChart } from "../components/UsageChart";
import { primaryUnit } from "./account-units";
import { BalancePanel } from "./Balance";
import { Banners } from "./Banners";
import { BudgetsPanel } from "./Budgets";
import { KindLimitsPanel } from "./KindLimits";
import { CycleMetrics, RunOutWarning } from "./CycleMetrics";

/** The dashboard of one account: balance (with the account's limit overrides), status, cycle, banners, usage chart and the top tables. */
export function SummaryTab() {
  const account = useRecordContext<Account>();
  if (!account) return null;
  const unit = primaryUnit(account);
  const cycle = account.balance?.cycle;
  return (
    <Stack spacing={2} sx={{ py: 1 }}>
      <Banners banners={account.banners ?? []} />
      {cycle && <RunOutWarning cycle={cycle} />}
      <BalancePanel units={account.balance?.units ?? []} pools={account.balance?.pools ?? []} primaryUnit={unit} limitOverrides={(account.limit_overrides ?? []).filter((l) => !l.work_kind)} />
      <BudgetsPanel accountId={String(account.id)} budgets={account.balance?.budgets ?? []} />
      <KindLimitsPanel account={account} />
      {cycle && <CycleMetrics cycle={cycle} unit={unit} />}
      <UsageChart accountId={String(account.id)} unit={unit} />
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2, "& > *": { flex: "1 1 380px", minWidth: 0 } }}>
        <TopTable accountId={String(account.id)} dimension="workspace_id" title="Top workspaces" keyLabel="Workspace" noneLabel="No workspace" unit={unit} />
        <TopTable accountId={String(account.id)} dimension="workspace_group_id" title="Top workspace groups" keyLabel="Group" noneLabel="No group" unit={unit} />
        <TopTable accountId={String(account.id)} dimension="user_id" title="Top users" keyLabel="User" noneLabel="No user" unit={unit} />
        <TopTable accountId={String(account.id)} dimension="work_kind" title="Used by kind of work" keyLabel="Kind of work" noneLabel="No kind named" unit={unit} />
      </Stack>
    </Stack>
  );
}
