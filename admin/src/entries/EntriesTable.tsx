import { Box, Chip, Link, Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";
import { useState } from "react";
import { DataTable, DateField, DateTimeInput, Link as RaLink, SelectInput, TextInput, useRecordContext } from "react-admin";
import { ENTRY_KIND_NAMES, type Attribution as AttributionMap, type Entry } from "../api-types";
import { Amount } from "../components/Amount";
import { RateTableRef } from "../components/RateTableRef";
import { TraceLink } from "../components/TraceLink";
import { HoldDialog } from "./HoldDialog";
import { balanceEffectOf } from "./balance-effect";
import { instantForPicker, pickedInstant } from "./instant";
import { receiptPath } from "../receipts/ReceiptShow";
import { EmptyState } from "../components/EmptyState";

export const ENTRY_KINDS = ENTRY_KIND_NAMES.map((k) => ({ id: k, name: k }));

/** Attribution the entries may be filtered by (the API's `attr.<dimension>`, exact values), offered under "Add filter". */
const ATTRIBUTION_FILTERS: [dimension: string, label: string][] = [
  ["workspace_id", "Workspace"],
  ["agent_id", "Agent"],
  ["user_id", "User"],
  ["conversation_id", "Conversation"],
  ["task_id", "Task"],
  ["deployment_id", "Deployment"],
  ["model", "Model"],
  ["tool", "Tool"],
];

/** The ledger's filters: kind, hold id, when recorded and attribution (the API's), plus the account when listed outside an account. */
export const entryFilters = (withAccount: boolean) => [
  ...(withAccount ? [<TextInput key="account_id" source="account_id" label="Account id" alwaysOn />] : []),
  <SelectInput key="kind" source="kind" choices={ENTRY_KINDS} alwaysOn emptyText="Any kind" />,
  <TextInput key="hold_id" source="hold_id" label="Hold id" alwaysOn />,
  // A statement's period: the list and its CSV export alike.
  // To the second (the picker's `step`), shown back in local time with its seconds.
  <DateTimeInput key="recorded_from" source="recorded_from" label="Recorded from" parse={pickedInstant} format={instantForPicker} slotProps={{ htmlInput: { step: 1 } }} data-testid="filter-recorded-from" />,
  <DateTimeInput key="recorded_before" source="recorded_before" label="Recorded before" parse={pickedInstant} format={instantForPicker} slotProps={{ htmlInput: { step: 1 } }} data-testid="filter-recorded-before" />,
  // react-admin keeps `attr.model` as { attr: { model } }; the data provider sends it as attr.model.
  ...ATTRIBUTION_FILTERS.map(([dimension, label]) => <TextInput key={`attr.${dimension}`} source={`attr.${dimension}`} label={label} data-testid={`filter-attr-${dimension}`} />),
];

/** Who and what an entry was for, as compact key=value chips. */
export function Attribution({ attribution }: { attribution: AttributionMap | undefined }) {
  const pairs = Object.entries(attribution ?? {}).filter(([, v]) => v);
  if (pairs.length === 0) return <Typography variant="caption" color="text.secondary">—</Typography>;
  return (
    <Box sx={{ display: "flex", flexWrap: "wrap", gap: 0.5 }}>
      {pairs.map(([k, v]) => (
        <Chip key={k} size="small" variant="outlined" label={`${k}: ${v}`} />
      ))}
    </Box>
  );
}

/** The double-entry lines of one entry (the row's expand panel). */
function EntryLines() {
  const entry = useRecordContext<Entry>();
  if (!entry) return null;
  return (
    <Box sx={{ p: 1 }}>
      <Attribution attribution={entry.attribution} />
      <Table size="small" sx={{ mt: 1 }}>
        <TableHead>
          <TableRow>
            <TableCell>Ledger account</TableCell>
            <TableCell>Pool</TableCell>
            <TableCell align="right">Amount</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {(entry.lines ?? []).map((l, i) => (
            <TableRow key={i}>
              <TableCell>{l.ledger_account}</TableCell>
              <TableCell>{l.pool_id || "—"}</TableCell>
              <TableCell align="right">
                <Amount micros={l.amount_micros} unit={entry.unit} exact />
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <Typography variant="caption" color="text.secondary">
        Rate table <RateTableRef tableId={entry.rate_table_id} version={entry.rate_table_version} />
      </Typography>
    </Box>
  );
}

/** Whether an entry's usage was reported late: it happened a second or more before it was recorded. */
export const reportedLate = (entry: Pick<Entry, "occurred_at" | "created_at">): boolean =>
  !!entry.occurred_at && !!entry.created_at && Date.parse(entry.created_at) - Date.parse(entry.occurred_at) >= 1_000;

/** When an entry's usage happened, and when it was recorded when that was later (usage reported late). */
export function EntryTime({ entry }: { entry: Entry }) {
  const late = reportedLate(entry);
  return (
    <Box component="span" data-testid="entry-time">
      <DateField record={entry} source={late ? "occurred_at" : "created_at"} showTime />
      {late && (
        <Typography variant="caption" color="text.secondary" component="div" data-testid="entry-recorded">
          recorded <DateField record={entry} source="created_at" showTime variant="caption" />
        </Typography>
      )}
    </Box>
  );
}

/** Ledger entries (inside a List of `tollgate-entries`): amounts exact, hold ids open the hold's life, trace ids link out. */
export function EntriesTable({ emptyText = "No entries match.", emptyHint }: { emptyText?: string; emptyHint?: string }) {
  const [holdId, setHoldId] = useState<string | null>(null);
  const empty = <EmptyState title={emptyText} {...(emptyHint ? { hint: emptyHint } : {})} />;
  return (
    <>
      <DataTable<Entry> rowClick={false} bulkActionButtons={false} expand={<EntryLines />} empty={empty}>
        <DataTable.Col label="When" disableSort render={(e) => <EntryTime entry={e as Entry} />} />
        <DataTable.Col label="Kind" disableSort render={(e) => <Chip size="small" label={e.kind} />} />
        <DataTable.Col label="Amount" disableSort align="right" render={(e) => <Amount micros={e.amount_micros} unit={e.unit} exact />} />
        <DataTable.Col
          label="Balance ±"
          disableSort
          align="right"
          render={(e) => {
            // One sign for every kind: what the entry did to the balance (the amount's sign follows the entry's kind).
            const effect = balanceEffectOf(e.lines ?? []);
            return (
              <Box component="span" data-testid="entry-balance-effect">
                {effect.startsWith("-") || effect === "0" ? "" : "+"}
                <Amount micros={effect} unit={e.unit} exact />
              </Box>
            );
          }}
        />
        <DataTable.Col
          label="Uncollected"
          disableSort
          align="right"
          render={(e) => (e.uncollected_micros && e.uncollected_micros !== "0" ? <Amount micros={e.uncollected_micros} unit={e.unit} exact /> : "")}
        />
        <DataTable.Col source="bucket" disableSort />
        <DataTable.Col
          label="Hold"
          disableSort
          render={(e) =>
            e.hold_id ? (
              <Link component="button" variant="body2" data-testid="hold-link" onClick={(ev: React.MouseEvent) => { ev.stopPropagation(); setHoldId(e.hold_id); }}>
                {e.hold_id}
              </Link>
            ) : (
              "—"
            )
          }
        />
        <DataTable.Col source="reason" disableSort />
        <DataTable.Col
          source="actor"
          label="Who"
          disableSort
          render={(e) => (e.on_behalf_of ? `${e.on_behalf_of} (via ${e.actor})` : e.actor)}
        />
        <DataTable.Col label="Trace" disableSort render={(e) => <TraceLink traceId={e.trace_id} />} />
        <DataTable.Col
          label="Receipt"
          disableSort
          render={(e) =>
            e.kind === "charge" || e.kind === "reverse" ? (
              <RaLink to={receiptPath(String(e.id))} data-testid="receipt-link" onClick={(ev: React.MouseEvent) => ev.stopPropagation()}>
                Receipt
              </RaLink>
            ) : (
              ""
            )
          }
        />
      </DataTable>
      <HoldDialog holdId={holdId} onClose={() => setHoldId(null)} />
    </>
  );
}
