import { Chip, Tooltip } from "@mui/material";
import { DataTable, DateField, List, SelectInput, TextInput } from "react-admin";
import type { WorkRow } from "../api-types";
import { Amount } from "../components/Amount";
import { formatDuration } from "../duration";
import { EmptyState } from "../components/EmptyState";

export const WORK_KINDS = [
  { id: "run", name: "run" },
  { id: "deployment", name: "deployment" },
];
export const WORK_STATES = ["running", "paused", "finished", "failed", "cancelled", "stopped", "undeployed"].map((s) => ({ id: s, name: s }));

const filters = [
  <TextInput key="account_id" source="account_id" label="Account id" alwaysOn />,
  <SelectInput key="kind" source="kind" choices={WORK_KINDS} alwaysOn emptyText="Any kind" />,
  <SelectInput key="state" source="state" choices={WORK_STATES} alwaysOn emptyText="Any state" />,
];

const STATE_COLORS: Record<string, "success" | "warning" | "error" | "default"> = { running: "success", paused: "warning", failed: "error", stopped: "error" };

/** A run's or deployment's state; a stopped one is red with why it was stopped as its tooltip. */
export function WorkStateChip({ row }: { row: WorkRow }) {
  const chip = <Chip size="small" label={row.state} color={STATE_COLORS[row.state] ?? "default"} data-testid="work-state" data-state={row.state} />;
  if (row.state !== "stopped") return chip;
  return <Tooltip title={row.stop_reason || "No reason given"}>{chip}</Tooltip>;
}

/** Runs and deployments (`/api/work`), running ones by default: what is being charged while active. */
export function WorkList() {
  return (
    <List filters={filters} filterDefaultValues={{ state: "running" }} perPage={50} empty={false} exporter={false} data-testid="work-list">
      <DataTable<WorkRow> rowClick={false} bulkActionButtons={false} empty={<EmptyState title="No runs or deployments match." hint="Only running work is shown by default: choose another state to see paused, finished or undeployed work." />}>
        <DataTable.Col source="work_id" label="Id" disableSort />
        <DataTable.Col label="Kind" disableSort render={(w) => <Chip size="small" variant="outlined" label={w.kind} />} />
        <DataTable.Col source="account_id" label="Account" disableSort />
        <DataTable.Col label="State" disableSort render={(w) => <WorkStateChip row={w as WorkRow} />} />
        <DataTable.Col label="Replicas" disableSort align="right" render={(w) => (w.kind === "deployment" && w.replicas != null ? String(w.replicas) : "—")} />
        <DataTable.Col label="Active time" disableSort align="right" render={(w) => formatDuration(w.active_seconds)} />
        <DataTable.Col label="Charged" disableSort align="right" render={(w) => <Amount micros={w.charged_micros} unit="credits" />} />
        <DataTable.Col label="Charged until" disableSort render={(w) => <DateField record={w} source="charged_until" showTime emptyText="—" />} />
        <DataTable.Col label="Created" disableSort render={(w) => <DateField record={w} source="created_at" showTime emptyText="—" />} />
      </DataTable>
    </List>
  );
}
