import { DataTable, DateField, List, TextInput } from "react-admin";
import type { RateTable } from "../api-types";
import { EmptyState } from "../components/EmptyState";
import { publisherOf } from "../publisher";


const filters = [<TextInput key="table_id" source="table_id" label="Table id" alwaysOn />];

/** Rate-table versions with their effective dates (`/api/rate-tables`). */
export function RateTableList() {
  return (
    <List filters={filters} perPage={50} empty={false} exporter={false}>
      <DataTable<RateTable> rowClick="show" bulkActionButtons={false} empty={<EmptyState title="No rate table versions match." hint="Rate tables are published through the pricing service; check the table id." />}>
        <DataTable.Col source="table_id" label="Table" disableSort />
        <DataTable.Col source="version" disableSort />
        <DataTable.Col label="Effective from" disableSort render={(t) => <DateField record={t} source="effective_from" showTime />} />
        <DataTable.Col label="Published" disableSort render={(t) => <DateField record={t} source="published_at" showTime />} />
        <DataTable.Col label="By" disableSort render={(t) => publisherOf(t as RateTable)} />
        <DataTable.Col label="Rates" disableSort render={(t) => (t.rates ?? []).length} />
      </DataTable>
    </List>
  );
}
