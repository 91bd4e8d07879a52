import { Chip } from "@mui/material";
import { DataTable, DateField, List, SearchInput } from "react-admin";
import type { AccountRow } from "../api-types";
import { EmptyState } from "../components/EmptyState";

const filters = [<SearchInput key="q" source="q" alwaysOn placeholder="Account id, name or admin email" />];

export const StatusChip = ({ status }: { status: string }) => (
  <Chip size="small" label={status} color={status === "active" ? "success" : status === "suspended" ? "error" : "default"} variant="outlined" />
);

/** Accounts (`/api/accounts`), searchable by id, name or an admin email address. */
export function AccountList() {
  return (
    <List filters={filters} perPage={25} sort={{ field: "id", order: "ASC" }} empty={false}>
      <DataTable<AccountRow> rowClick="show" bulkActionButtons={false} empty={<EmptyState title="No accounts match." hint="Check the filters, or search by a hold, entry, trace or conversation id in the app bar." />}>
        <DataTable.Col source="id" label="Account" disableSort />
        <DataTable.Col source="name" disableSort />
        <DataTable.Col label="Plan" disableSort render={(r) => `${r.plan_id} v${r.plan_version}`} />
        <DataTable.Col source="seats" disableSort />
        <DataTable.Col label="Status" disableSort render={(r) => <StatusChip status={r.status} />} />
        <DataTable.Col source="deployment_mode" label="Deployment" disableSort />
        <DataTable.Col source="billing_mode" label="Billing" disableSort />
        <DataTable.Col source="created_at" label="Created" disableSort field={DateField} />
      </DataTable>
    </List>
  );
}
