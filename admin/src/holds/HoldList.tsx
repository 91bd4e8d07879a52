import { Box, Chip, Link, Typography } from "@mui/material";
import { useState } from "react";
import { DataTable, DateField, List, SelectInput, TextInput } from "react-admin";
import type { Attribution, HoldRow } from "../api-types";
import { Amount } from "../components/Amount";
import { HoldDialog } from "../entries/HoldDialog";
import { EmptyState } from "../components/EmptyState";

export const HOLD_STATUSES = ["open", "charged", "released", "expired"].map((s) => ({ id: s, name: s }));

const filters = [
  <TextInput key="account_id" source="account_id" label="Account id" alwaysOn />,
  <SelectInput key="status" source="status" choices={HOLD_STATUSES} alwaysOn emptyText="Any status" />,
];

const STATUS_COLORS: Record<string, "info" | "success" | "warning" | "default"> = { open: "info", charged: "success", released: "default", expired: "warning" };

/** The attribution dimensions worth a glance in the list; the hold view shows them all. */
const SUMMARY: [key: string, label: string][] = [
  ["agent_id", "agent"],
  ["conversation_id", "conversation"],
  ["model", "model"],
];

/** Agent / conversation / model of a hold, when present. */
export function AttributionSummary({ attribution }: { attribution: Attribution | undefined }) {
  const parts = SUMMARY.filter(([key]) => attribution?.[key]).map(([key, label]) => [label, attribution![key]!] as const);
  if (parts.length === 0) return <Typography variant="caption" color="text.secondary">—</Typography>;
  return (
    <Box sx={{ display: "flex", flexWrap: "wrap", gap: 0.5 }}>
      {parts.map(([label, value]) => (
        <Chip key={label} size="small" variant="outlined" label={`${label}: ${value}`} />
      ))}
    </Box>
  );
}

/** Holds (`/api/holds`), open ones by default: what is in flight. A hold id opens its life from authorize to final charge or release. */
export function HoldList() {
  const [holdId, setHoldId] = useState<string | null>(null);
  return (
    <List filters={filters} filterDefaultValues={{ status: "open" }} perPage={50} empty={false} exporter={false} data-testid="holds-list">
      <DataTable<HoldRow> rowClick={false} bulkActionButtons={false} empty={<EmptyState title="No holds match." hint="Only open holds are shown by default: choose another status to see charged, released or expired ones." />}>
        <DataTable.Col
          label="Hold"
          disableSort
          render={(h) => (
            <Link component="button" variant="body2" data-testid="hold-link" onClick={(ev: React.MouseEvent) => { ev.stopPropagation(); setHoldId(h.id); }}>
              {h.id}
            </Link>
          )}
        />
        <DataTable.Col source="account_id" label="Account" disableSort />
        <DataTable.Col label="Amount" disableSort align="right" render={(h) => <Amount micros={h.amount_micros} unit={h.unit} />} />
        <DataTable.Col label="Charged" disableSort align="right" render={(h) => <Amount micros={h.charged_micros} unit={h.unit} />} />
        <DataTable.Col label="Status" disableSort render={(h) => <Chip size="small" label={h.status} color={STATUS_COLORS[h.status] ?? "default"} />} />
        <DataTable.Col label="Expires" disableSort render={(h) => <DateField record={h} source="expires_at" showTime emptyText="—" />} />
        <DataTable.Col label="Created" disableSort render={(h) => <DateField record={h} source="created_at" showTime emptyText="—" />} />
        <DataTable.Col label="Attribution" disableSort render={(h) => <AttributionSummary attribution={h.attribution} />} />
      </DataTable>
      <HoldDialog holdId={holdId} onClose={() => setHoldId(null)} />
    </List>
  );
}
