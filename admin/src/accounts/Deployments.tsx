import {
  Alert,
  Box,
  Card,
  CardContent,
  CardHeader,
  Chip,
  Divider,
  Drawer,
  IconButton,
  LinearProgress,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Tooltip,
  Typography,
} from "@mui/material";
import CloseIcon from "@mui/icons-material/Close";
import { useState, type ReactNode } from "react";
import { useGetList, useGetOne } from "react-admin";
import type { Plan, WorkRow } from "../api-types";
import { Amount } from "../components/Amount";
import { RESOURCES } from "../data-provider";
import { formatDuration, formatHoursMinutes } from "../duration";
import { useTollgateQuery } from "../hooks";
import { describeError } from "../http";
import { formatAmount } from "../money";
import {
  cpuCount,
  deploymentHardware,
  deploymentReplicas,
  deploymentStatus,
  deploymentsOfKind,
  formatHostingProfile,
  hostingProfiles,
  totalActiveSeconds,
  totalChargedMicros,
  type DeploymentHardware,
} from "./deployment-usage";

/*
 * Metered deployments of an account (`/api/work?kind=deployment`), split by
 * the hardware they are charged for: CPU (guardrails), hardware profiles
 * (custom scripts) and GPU (model hosting). Amounts are micro-credits.
 */

const PAGE_SIZE = 100;
const CREDITS = "credits";

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString("en-US") : "—");

function useDeployments(accountId: string, kind: DeploymentHardware["kind"]) {
  const query = useGetList<WorkRow>(RESOURCES.work, {
    filter: { account_id: accountId, kind: "deployment" },
    pagination: { page: 1, perPage: PAGE_SIZE },
  });
  return { ...query, rows: deploymentsOfKind(query.data ?? [], kind), truncated: Boolean(query.pageInfo?.hasNextPage) };
}

const STATUS_COLORS: Record<string, "success" | "error" | "warning" | "default"> = { running: "success", stopped: "error", failed: "error", paused: "warning" };

/** Deployed / Undeployed / Stopped (with why as the tooltip). */
export function DeploymentStatus({ row }: { row: WorkRow }) {
  const chip = <Chip size="small" label={deploymentStatus(row.state)} color={STATUS_COLORS[row.state] ?? "default"} data-state={row.state} />;
  if (row.state !== "stopped") return chip;
  return <Tooltip title={row.stop_reason || "No reason given"}>{chip}</Tooltip>;
}

interface Column {
  label: string;
  align?: "right";
  render: (row: WorkRow) => ReactNode;
}

interface DeploymentTableProps {
  title: string;
  summary: ReactNode;
  rows: WorkRow[];
  columns: Column[];
  rowTestId: string;
  isPending: boolean;
  error: unknown;
  truncated: boolean;
  onRowClick?: (row: WorkRow) => void;
}

function DeploymentTable({ title, summary, rows, columns, rowTestId, isPending, error, truncated, onRowClick }: DeploymentTableProps) {
  return (
    <Card variant="outlined" data-testid={`${rowTestId}s`}>
      <CardHeader title={title} subheader={isPending ? undefined : summary} slotProps={{ title: { variant: "subtitle1" } }} />
      {isPending && <LinearProgress />}
      <CardContent sx={{ pt: 0 }}>
        {error != null && <Alert severity="error">{describeError(error).message}</Alert>}
        {truncated && (
          <Alert severity="info" variant="outlined" sx={{ mb: 1 }}>
            Only the first {PAGE_SIZE} deployments of the account are read; totals cover those.
          </Alert>
        )}
        {!isPending && error == null && rows.length === 0 && <Box sx={{ color: "text.secondary" }}>No deployments.</Box>}
        {rows.length > 0 && (
          <Table size="small">
            <TableHead>
              <TableRow>
                {columns.map((c) => (
                  <TableCell key={c.label} align={c.align}>
                    {c.label}
                  </TableCell>
                ))}
              </TableRow>
            </TableHead>
            <TableBody>
              {rows.map((row) => (
                <TableRow
                  key={row.id}
                  hover={Boolean(onRowClick)}
                  data-testid={rowTestId}
                  onClick={onRowClick ? () => onRowClick(row) : undefined}
                  sx={onRowClick ? { cursor: "pointer" } : undefined}
                >
                  {columns.map((c) => (
                    <TableCell key={c.label} align={c.align}>
                      {c.render(row)}
                    </TableCell>
                  ))}
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}

/** A right-side detail panel: labelled lines and a total. */
function DetailPanel({ title, testId, row, lines, onClose }: { title: string; testId: string; row: WorkRow | null; lines: (row: WorkRow) => [string, ReactNode][]; onClose: () => void }) {
  return (
    <Drawer anchor="right" open={row != null} onClose={onClose}>
      {row && (
        <Box sx={{ width: 360, p: 2 }} data-testid={testId} role="dialog" aria-label={title}>
          <Stack direction="row" sx={{ alignItems: "center", justifyContent: "space-between" }}>
            <Typography variant="overline">{title}</Typography>
            <IconButton size="small" aria-label="Close" onClick={onClose}>
              <CloseIcon fontSize="small" />
            </IconButton>
          </Stack>
          <Typography variant="h6" sx={{ wordBreak: "break-all", mb: 1 }}>
            {row.work_id}
          </Typography>
          <DeploymentStatus row={row} />
          <Stack spacing={1} sx={{ mt: 2 }}>
            {lines(row).map(([label, value]) => (
              <Stack key={label} direction="row" sx={{ justifyContent: "space-between", gap: 2 }}>
                <Typography variant="body2" color="text.secondary">
                  {label}
                </Typography>
                <Typography variant="body2" component="span" sx={{ textAlign: "right" }}>
                  {value}
                </Typography>
              </Stack>
            ))}
            <Divider />
            <Stack direction="row" sx={{ justifyContent: "space-between" }}>
              <Typography variant="subtitle2">Total</Typography>
              <Typography variant="subtitle2" component="span">
                <Amount micros={row.charged_micros} unit={CREDITS} />
              </Typography>
            </Stack>
          </Stack>
        </Box>
      )}
    </Drawer>
  );
}

const hw = (row: WorkRow) => deploymentHardware(row.usage);
const credits = (row: WorkRow) => <Amount micros={row.charged_micros} unit={CREDITS} />;
const status = (row: WorkRow) => <DeploymentStatus row={row} />;

/** Guardrails tab: CPU deployments, with the Guardrail Detail Panel. */
export function GuardrailDeployments({ accountId }: { accountId: string }) {
  const { rows, isPending, error, truncated } = useDeployments(accountId, "cpu");
  const [open, setOpen] = useState<WorkRow | null>(null);
  const summary = `Total guardrails: ${rows.length.toLocaleString("en-US")} · Total credits: ${formatAmount(totalChargedMicros(rows), CREDITS)} · Total time: ${formatDuration(totalActiveSeconds(rows))}`;
  return (
    <>
      <DeploymentTable
        title="Guardrail deployments"
        summary={summary}
        rows={rows}
        rowTestId="guardrail-row"
        isPending={isPending}
        error={error}
        truncated={truncated}
        onRowClick={setOpen}
        columns={[
          { label: "Name", render: (r) => r.work_id },
          { label: "Credits used", align: "right", render: credits },
          { label: "Time deployed", align: "right", render: (r) => formatDuration(r.active_seconds) },
          { label: "Last deployed on", render: (r) => when(r.created_at) },
          { label: "Status", render: status },
        ]}
      />
      <DetailPanel
        title="Guardrail detail"
        testId="guardrail-panel"
        row={open}
        onClose={() => setOpen(null)}
        lines={(r) => {
          const h = hw(r);
          return [
            ["CPU type", h?.kind === "cpu" && h.cpuType ? h.cpuType : "—"],
            ["CPU count", cpuCount(r)],
            ["Usage duration", formatDuration(r.active_seconds)],
            ["Credits used", credits(r)],
          ];
        }}
      />
    </>
  );
}

/** The hosting profiles of the account plan's rate table in effect now (for vCPUs and memory). */
function useHostingProfiles(plan: { planId: string; version: string | number } | undefined) {
  const { data: planRecord } = useGetOne<Plan>(RESOURCES.plans, { id: plan ? `${plan.planId}@${plan.version}` : "" }, { enabled: Boolean(plan) });
  // A plan without a rate table is priced from "default", as the ledger does.
  const tableId = planRecord ? planRecord.rate_table_id || "default" : "";
  const table = useTollgateQuery(["rate-table-in-effect", tableId], (p, signal) => p.getRateTableInEffect(RESOURCES.rateTables, { tableId, signal }), Boolean(tableId));
  return hostingProfiles(table.data?.rates ?? []);
}

/** Custom scripts tab: hardware-profile deployments, with the Script Detail Panel. */
export function ScriptDeployments({ accountId, plan }: { accountId: string; plan?: { planId: string; version: string | number } }) {
  const { rows, isPending, error, truncated } = useDeployments(accountId, "profile");
  const profiles = useHostingProfiles(plan);
  const [open, setOpen] = useState<WorkRow | null>(null);
  const summary = `Total scripts: ${rows.length.toLocaleString("en-US")} · Hosting credits: ${formatAmount(totalChargedMicros(rows), CREDITS)}`;
  return (
    <>
      <DeploymentTable
        title="Script deployments"
        summary={summary}
        rows={rows}
        rowTestId="script-row"
        isPending={isPending}
        error={error}
        truncated={truncated}
        onRowClick={setOpen}
        columns={[
          { label: "Script name", render: (r) => r.work_id },
          { label: "Language (version)", render: (r) => r.labels?.language || "—" },
          { label: "Credits used", align: "right", render: credits },
          { label: "Last active on", render: (r) => when(r.charged_until) },
          { label: "Status", render: status },
        ]}
      />
      <DetailPanel
        title="Script detail"
        testId="script-panel"
        row={open}
        onClose={() => setOpen(null)}
        lines={(r) => {
          const h = hw(r);
          return [
            ["Language (version)", r.labels?.language || "—"],
            ["Hardware profile", h?.kind === "profile" && h.profile ? h.profile : "—"],
            ["Hosting infrastructure", h?.kind === "profile" && profiles.has(h.profile) ? formatHostingProfile(profiles.get(h.profile)!) : "—"],
            ["Hosting time", formatHoursMinutes(r.active_seconds)],
            ["Credits used", credits(r)],
          ];
        }}
      />
    </>
  );
}

/** Models tab: GPU deployments. */
export function GpuDeployments({ accountId }: { accountId: string }) {
  const { rows, isPending, error, truncated } = useDeployments(accountId, "gpu");
  const summary = `GPU hosting · Total deployments: ${rows.length.toLocaleString("en-US")} · Total credits: ${formatAmount(totalChargedMicros(rows), CREDITS)}`;
  return (
    <DeploymentTable
      title="Deployments"
      summary={summary}
      rows={rows}
      rowTestId="gpu-deployment-row"
      isPending={isPending}
      error={error}
      truncated={truncated}
      columns={[
        { label: "Name", render: (r) => r.work_id },
        { label: "Type", render: (r) => r.labels?.type || "—" },
        { label: "GPU type", render: (r) => { const h = hw(r); return h?.kind === "gpu" && h.gpuType ? h.gpuType : "—"; } },
        { label: "Replicas", align: "right", render: (r) => deploymentReplicas(r).toLocaleString("en-US") },
        { label: "Credits used", align: "right", render: credits },
        { label: "Last updated on", render: (r) => when(r.charged_until) },
        { label: "Status", render: status },
      ]}
    />
  );
}
