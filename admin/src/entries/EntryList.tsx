import { List, Pagination } from "react-admin";
import { EntriesTable, entryFilters } from "./EntriesTable";

/** The ledger explorer: entries of one account (the API needs `account_id`), by kind and hold. */
export function EntryList() {
  return (
    <List filters={entryFilters(true)} perPage={25} empty={false} pagination={<Pagination rowsPerPageOptions={[10, 25, 50, 100]} />}>
      <EntriesTable emptyText="No entries. The ledger lists one account at a time: enter an account id." />
    </List>
  );
}
