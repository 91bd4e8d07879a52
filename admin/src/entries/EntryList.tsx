import { Box } from "@mui/material";
import { FilterButton, List, Pagination, TopToolbar, useListContext } from "react-admin";
import { SupportSearchBox } from "../search/SupportSearch";
import { EntriesTable, entryFilters } from "./EntriesTable";
import { ExportEntriesButton } from "./ExportEntries";

/** Whether a filter's value narrows the list: text given, or an attribution filter (`{ attr: { model } }`) with one given. */
const given = (value: unknown): boolean => (typeof value === "object" && value !== null ? Object.values(value).some(given) : value !== undefined && value !== "");

/** The explorer's table, saying why it is empty: no account yet, an account with no entries, or none matching the other filters. */
function ExplorerTable() {
  const { filterValues } = useListContext();
  if (!filterValues.account_id) {
    return <EntriesTable emptyText="No entries to show." emptyHint="The ledger lists one account at a time: enter an account id, or search by a hold, entry, trace or conversation id above." />;
  }
  const filtered = Object.entries(filterValues).some(([name, value]) => name !== "account_id" && given(value));
  return filtered ? (
    <EntriesTable emptyText="No entries match these filters." emptyHint="The account has no entries of that kind, hold, period or attribution: clear a filter to see more." />
  ) : (
    <EntriesTable emptyText="This account has no entries yet." emptyHint="Grants, charges and adjustments appear here as the ledger records them." />
  );
}

/** The ledger explorer: entries of one account (the API needs `account_id`), by kind, hold, period and attribution. */
export function EntryList() {
  return (
    <>
      <Box sx={{ mt: 2 }}>
        <SupportSearchBox placement="explorer" />
      </Box>
      <List filters={entryFilters(true)} perPage={25} empty={false} exporter={false} actions={<TopToolbar><FilterButton /><ExportEntriesButton /></TopToolbar>} pagination={<Pagination rowsPerPageOptions={[10, 25, 50, 100]} />}>
        <ExplorerTable />
      </List>
    </>
  );
}
