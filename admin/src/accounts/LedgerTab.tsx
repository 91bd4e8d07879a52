import { FilterButton, List, Pagination, TopToolbar, useRecordContext } from "react-admin";
import type { Account } from "../api-types";
import { RESOURCES } from "../data-provider";
import { EntriesTable, entryFilters } from "../entries/EntriesTable";
import { ExportEntriesButton } from "../entries/ExportEntries";

/** The account's ledger entries, filtered by kind, hold id and attribution. */
export function LedgerTab() {
  const account = useRecordContext<Account>();
  if (!account) return null;
  return (
    <List
      resource={RESOURCES.entries}
      filter={{ account_id: account.id }}
      filters={entryFilters(false)}
      disableSyncWithLocation
      storeKey={false}
      perPage={25}
      title={false}
      empty={false}
      exporter={false}
      actions={<TopToolbar><FilterButton /><ExportEntriesButton /></TopToolbar>}
      pagination={<Pagination rowsPerPageOptions={[10, 25, 50, 100]} />}
    >
      <EntriesTable emptyText="No entries match." emptyHint="This account has no ledger entries of this kind or hold yet." />
    </List>
  );
}
