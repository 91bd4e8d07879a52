import { DataTable, DateField, List } from "react-admin";
import type { Plan } from "../api-types";
import { formatAmount } from "../money";
import { EmptyState } from "../components/EmptyState";
import { publisherOf } from "../publisher";

export const allotmentsText = (plan: Plan) => (plan.allotments ?? []).map((a) => formatAmount(a.amount_micros, a.unit)).join(" + ") || "—";

/** Every version of every plan (`/api/plans?all_versions=true`). */
export function PlanList() {
  return (
    <List perPage={50} empty={false} exporter={false}>
      <DataTable<Plan> rowClick="show" bulkActionButtons={false} empty={<EmptyState title="No plans published yet." hint="Plans are published through the entitlements service (npm start loads the demo catalogues)." />}>
        <DataTable.Col source="plan_id" label="Plan" disableSort />
        <DataTable.Col source="version" disableSort />
        <DataTable.Col source="name" disableSort />
        <DataTable.Col source="tier" disableSort />
        <DataTable.Col label="Allotments per cycle" disableSort render={allotmentsText} />
        <DataTable.Col source="published_at" label="Published" disableSort render={(p) => <DateField record={p} source="published_at" showTime />} />
        <DataTable.Col label="By" disableSort render={(p) => publisherOf(p as Plan)} />
      </DataTable>
    </List>
  );
}
