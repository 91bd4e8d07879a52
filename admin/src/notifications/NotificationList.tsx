import Send from "@mui/icons-material/Send";
import { Button, Chip } from "@mui/material";
import { useState } from "react";
import { DataTable, DateField, List, TextInput } from "react-admin";
import type { NotificationRow } from "../api-types";
import { ActionDialog } from "../components/ActionDialog";
import { TraceLink } from "../components/TraceLink";
import { RESOURCES } from "../data-provider";
import { useRole, useTollgate } from "../hooks";
import { EmptyState } from "../components/EmptyState";

const filters = [<TextInput key="account_id" source="account_id" label="Account id" alwaysOn />];

const STATUS_COLORS: Record<string, "success" | "warning" | "error" | "default"> = { delivered: "success", pending: "warning", failed: "error", dead_letter: "error" };

/** The delivery log (`/api/notifications`): status, attempts, last error, trace; operators may resend. */
export function NotificationList() {
  const { canOperate } = useRole();
  const provider = useTollgate();
  const [resending, setResending] = useState<NotificationRow | null>(null);
  return (
    <List filters={filters} perPage={50} empty={false} exporter={false}>
      <DataTable<NotificationRow> rowClick={false} bulkActionButtons={false} empty={<EmptyState title="No notifications match." hint="Emails and webhooks appear when an account crosses a threshold, runs out or a deployment changes." />}>
        <DataTable.Col label="Created" disableSort render={(n) => <DateField record={n} source="created_at" showTime />} />
        <DataTable.Col source="account_id" label="Account" disableSort />
        <DataTable.Col source="channel" disableSort />
        <DataTable.Col source="recipient" disableSort />
        <DataTable.Col source="rule" disableSort />
        <DataTable.Col label="Status" disableSort render={(n) => <Chip size="small" label={n.status} color={STATUS_COLORS[n.status] ?? "default"} />} />
        <DataTable.Col source="attempts" disableSort />
        <DataTable.Col source="last_error" label="Last error" disableSort />
        <DataTable.Col label="Delivered" disableSort render={(n) => <DateField record={n} source="delivered_at" showTime emptyText="—" />} />
        <DataTable.Col label="Trace" disableSort render={(n) => <TraceLink traceId={n.trace_id} />} />
        <DataTable.Col
          label=""
          disableSort
          render={(n) => (
            <Button size="small" startIcon={<Send />} disabled={!canOperate} title={canOperate ? undefined : "Needs the operator role"} onClick={() => setResending(n as NotificationRow)} data-testid="resend-button">
              Resend
            </Button>
          )}
        />
      </DataTable>
      <ActionDialog
        open={resending !== null}
        onClose={() => setResending(null)}
        title={`Resend ${resending?.channel ?? ""} to ${resending?.recipient ?? ""}`}
        testId="resend"
        target={resending?.id ?? ""}
        submitLabel="Resend"
        successMessage="Notification queued for resend"
        onSubmit={(reason, idempotencyKey) => provider.resendNotification(RESOURCES.notifications, { id: resending!.id, reason, idempotencyKey })}
      />
    </List>
  );
}
