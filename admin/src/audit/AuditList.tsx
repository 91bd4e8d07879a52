import { Box, Chip, Stack, Typography } from "@mui/material";
import { DataTable, DateField, List, SelectInput, TextInput, useRecordContext } from "react-admin";
import type { AuditRow } from "../api-types";
import { JsonBlock } from "../components/JsonBlock";
import { TraceLink } from "../components/TraceLink";
import { EmptyState } from "../components/EmptyState";

/** The API's filters: an account, who (a console user, with the calls made for them, or a principal), refused or not. */
const filters = [
  <TextInput key="account_id" source="account_id" label="Account id" alwaysOn />,
  <TextInput key="actor" source="actor" label="Who" alwaysOn />,
  <SelectInput key="refused" source="refused" label="Outcome" alwaysOn emptyText="Any outcome" choices={[{ id: "true", name: "Refused" }, { id: "false", name: "Not refused" }]} />,
];

/** Before and after of one audited action, side by side (the row's expand panel). */
function BeforeAfter() {
  const row = useRecordContext<AuditRow>();
  if (!row) return null;
  return (
    <Stack direction={{ xs: "column", md: "row" }} spacing={2} sx={{ p: 1, "& > *": { flex: 1, minWidth: 0 } }}>
      <Box>
        <Typography variant="caption">Before</Typography>
        <JsonBlock value={row.before} />
      </Box>
      <Box>
        <Typography variant="caption">After</Typography>
        <JsonBlock value={row.after} />
      </Box>
    </Stack>
  );
}

/**
 * Every support action and every admin gRPC call: who (and for whom), with
 * which role, did what to what, why, the outcome (refused calls counted per
 * minute) and the trace (`/api/audit`).
 */
export function AuditList() {
  return (
    <List filters={filters} perPage={50} empty={false} exporter={false}>
      <DataTable<AuditRow> rowClick="expand" bulkActionButtons={false} expand={<BeforeAfter />} empty={<EmptyState title="No support actions match." hint="Every grant, adjustment, status, limit, plan or price change, and every refused call, is recorded here." />}>
        <DataTable.Col label="When" disableSort render={(a) => <DateField record={a} source="created_at" showTime />} />
        <DataTable.Col source="actor" label="Who" disableSort />
        <DataTable.Col source="on_behalf_of" label="For" disableSort />
        <DataTable.Col label="Role" disableSort render={(a) => <Chip size="small" variant="outlined" label={a.role} />} />
        <DataTable.Col source="action" disableSort />
        <DataTable.Col source="target" disableSort />
        <DataTable.Col source="reason" disableSort />
        <DataTable.Col
          label="Outcome"
          disableSort
          render={(a) => <Chip size="small" color={a.outcome === "OK" ? "default" : "warning"} label={a.count > 1 ? `${a.outcome} ×${a.count}` : a.outcome} />}
        />
        <DataTable.Col label="Trace" disableSort render={(a) => <TraceLink traceId={a.trace_id} />} />
      </DataTable>
    </List>
  );
}
