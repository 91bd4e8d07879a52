import { Show, TabbedShowLayout, useRecordContext } from "react-admin";
import type { Account } from "../api-types";
import { AccountActions } from "./Actions";
import { AlertsTab } from "./AlertsTab";
import { StatusChip } from "./AccountList";
import { LedgerTab } from "./LedgerTab";
import { MembersTab } from "./MembersTab";
import { SummaryTab } from "./SummaryTab";
import { GuardrailsTab, ModelsTab, OverviewTab, ScriptsTab, ToolsTab } from "./UsageTabs";
import { useRecordLoadErrors } from "../hooks";

function AccountTitle() {
  const account = useRecordContext<Account>();
  return <span>{account ? `${account.name || account.id} · ${account.plan_id} v${account.plan_version}` : "Account"}</span>;
}

function AccountHeader() {
  const account = useRecordContext<Account>();
  if (!account) return null;
  return (
    <span>
      {account.id} · {account.seats} seats · {account.deployment_mode} · {account.billing_mode} · <StatusChip status={account.status} />
    </span>
  );
}

/** One account: the dashboard, the five usage tabs of seed 001, the members' usage (seed 000), the ledger, and where its alerts go. */
export function AccountShow() {
  const loadErrors = useRecordLoadErrors();
  return (
    <Show queryOptions={loadErrors} title={<AccountTitle />} actions={<AccountActions />}>
      <TabbedShowLayout>
        <TabbedShowLayout.Tab label="Summary">
          <AccountHeader />
          <SummaryTab />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="Overview" path="overview">
          <OverviewTab />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="Tools" path="tools">
          <ToolsTab />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="Models" path="models">
          <ModelsTab />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="Guardrails" path="guardrails">
          <GuardrailsTab />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="Custom scripts" path="scripts">
          <ScriptsTab />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="Members" path="members">
          <MembersTab />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="Ledger" path="ledger">
          <LedgerTab />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="Alerts" path="alerts">
          <AlertsTab />
        </TabbedShowLayout.Tab>
      </TabbedShowLayout>
    </Show>
  );
}
