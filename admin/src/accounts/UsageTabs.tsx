import { Alert, Box, Card, CardContent, CardHeader, Stack, Typography } from "@mui/material";
import { useRecordContext } from "react-admin";
import { Cell, Legend, Pie, PieChart, ResponsiveContainer, Tooltip } from "recharts";
import type { Account, TopDimension, TopPage } from "../api-types";
import { TopTable, rowUnit } from "../components/TopTable";
import { CHART_COLORS, UsageChart } from "../components/UsageChart";
import { RESOURCES } from "../data-provider";
import { useTollgateQuery } from "../hooks";
import { formatAmount, microsToNumber, numberToMicros, percentOf } from "../money";
import { primaryUnit } from "./account-units";
import { GpuDeployments, GuardrailDeployments, ScriptDeployments } from "./Deployments";
import { ToolCatalogue } from "./ToolCatalogue";

/*
 * The five usage tabs of seed 001 (Overview, Tools, Models, Guardrails,
 * Custom scripts), built only from what the gateway offers: the top tables by
 * tool, model, deployment_id and block, and the split by bucket, plus the
 * metered deployments of `/api/work` (GPU, CPU and hardware-profile time; see
 * ./Deployments). A script's language and a model deployment's type come
 * from the labels the caller deployed them with, a script's vCPUs and memory
 * from its hosting profile in the rate table. Tool owner and status are not
 * the ledger's to know and are left out.
 */

function useAccount() {
  const account = useRecordContext<Account>();
  return account ? { account, id: String(account.id), unit: primaryUnit(account) } : null;
}

/** A split of the usage by one dimension (top by `dimension`): the bucket split feeds the pie and the per-bucket totals. */
function useSplit(accountId: string, dimension: TopDimension) {
  return useTollgateQuery(["top", accountId, dimension, "all"], (p, signal) =>
    p.getAccountTop(RESOURCES.accounts, { accountId, dimension, pageSize: 50, signal }) as Promise<TopPage>,
  );
}

const useBuckets = (accountId: string) => useSplit(accountId, "bucket");

function UsedOf({ testId, title, used, granted, unit }: { testId: string; title: string; used: string; granted: string; unit: string }) {
  return (
    <Card variant="outlined" sx={{ flex: "1 1 240px" }} data-testid={testId}>
      <CardContent>
        <Typography variant="caption" color="text.secondary">
          {title}
        </Typography>
        <Typography variant="h6">
          {formatAmount(used, unit)} of {formatAmount(granted, unit)}
        </Typography>
        <Typography variant="body2" color="text.secondary">
          {percentOf(used, granted).toFixed(2)}% used
        </Typography>
      </CardContent>
    </Card>
  );
}

/** Usage by bucket as a pie; hover for the amounts. */
export function BucketPie({ accountId, unit }: { accountId: string; unit: string }) {
  const query = useBuckets(accountId);
  const rows = (query.data?.data ?? []).filter((r) => r.key !== "tool_runs" || unit === "tool_runs");
  const data = rows.map((r) => ({ name: r.key || "(none)", value: microsToNumber(r.amount_micros) })).filter((d) => d.value > 0);
  return (
    <Card variant="outlined" sx={{ flex: "1 1 320px" }} data-testid="bucket-pie">
      <CardHeader title="Credits by bucket" slotProps={{ title: { variant: "subtitle1" } }} />
      <CardContent>
        {data.length === 0 ? (
          <Typography color="text.secondary">{query.isPending ? "Loading…" : "No usage recorded."}</Typography>
        ) : (
          <Box sx={{ height: 240 }}>
            <ResponsiveContainer>
              <PieChart>
                <Pie data={data} dataKey="value" nameKey="name" outerRadius={90} label={(e: { name?: string }) => e.name ?? ""}>
                  {data.map((d, i) => (
                    <Cell key={d.name} fill={CHART_COLORS[i % CHART_COLORS.length]} />
                  ))}
                </Pie>
                <Tooltip formatter={(value, name) => [formatAmount(numberToMicros(Number(value)), unit), String(name)]} />
                <Legend />
              </PieChart>
            </ResponsiveContainer>
          </Box>
        )}
      </CardContent>
    </Card>
  );
}

export function OverviewTab() {
  const ctx = useAccount();
  if (!ctx) return null;
  const units = ctx.account.balance?.units ?? [];
  const runs = units.find((u) => u.unit === "tool_runs");
  const credits = units.find((u) => u.unit === ctx.unit);
  return (
    <Stack spacing={2} sx={{ py: 1 }}>
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2 }}>
        {runs && <UsedOf testId="overview-runs" title="Runs" used={runs.used_micros} granted={runs.granted_micros} unit="tool_runs" />}
        {credits && <UsedOf testId="overview-credits" title={ctx.unit === "usd" ? "Spend" : "Credits"} used={credits.used_micros} granted={credits.granted_micros} unit={ctx.unit} />}
      </Stack>
      <Stack direction={{ xs: "column", lg: "row" }} spacing={2}>
        <BucketPie accountId={ctx.id} unit={ctx.unit} />
        <Box sx={{ flex: "2 1 480px" }}>
          <UsageChart accountId={ctx.id} unit={ctx.unit} title="Usage trend" splits={["bucket", "surface"]} />
        </Box>
      </Stack>
    </Stack>
  );
}

export function ToolsTab() {
  const ctx = useAccount();
  if (!ctx) return null;
  return (
    <Stack spacing={2} sx={{ py: 1 }}>
      <ToolCatalogue accountId={ctx.id} />
    </Stack>
  );
}

/** Total of one value of a split: a bucket (ai = inference and guardrails), or a kind of work (custom_script). */
function SplitTotal({ accountId, dimension, value, title, unit }: { accountId: string; dimension: "bucket" | "work_kind"; value: string; title: string; unit: string }) {
  const query = useSplit(accountId, dimension);
  const row = query.data?.data.find((r) => r.key === value);
  return (
    <Card variant="outlined" sx={{ flex: "1 1 240px" }} data-testid={`${dimension === "bucket" ? "bucket" : "kind"}-total-${value}`}>
      <CardContent>
        <Typography variant="caption" color="text.secondary">
          {title}
        </Typography>
        <Typography variant="h6">{query.isPending ? "…" : formatAmount(row?.amount_micros ?? "0", rowUnit(dimension, value, unit))}</Typography>
        <Typography variant="body2" color="text.secondary">
          {row ? `${Number(row.requests).toLocaleString("en-US")} requests` : "no usage"}
        </Typography>
      </CardContent>
    </Card>
  );
}

export function ModelsTab() {
  const ctx = useAccount();
  if (!ctx) return null;
  return (
    <Stack spacing={2} sx={{ py: 1 }}>
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2 }}>
        <SplitTotal accountId={ctx.id} dimension="bucket" value="ai" title="Inference and guardrails (ai bucket)" unit={ctx.unit} />
        <SplitTotal accountId={ctx.id} dimension="work_kind" value="model_hosting" title="Hosting credits (model deployments)" unit={ctx.unit} />
        <SplitTotal accountId={ctx.id} dimension="work_kind" value="fine_tuning" title="Fine-tuning credits" unit={ctx.unit} />
      </Stack>
      <TopTable accountId={ctx.id} dimension="model" title="Models" keyLabel="Model name" amountLabel="Credits used" noneLabel="Usage without a model" unit={ctx.unit} pageSize={25} />
      <GpuDeployments accountId={ctx.id} />
      <Alert severity="info" variant="outlined">
        Deployments are across all models: the API does not filter deployments by model.
      </Alert>
      <TopTable accountId={ctx.id} dimension="deployment_id" title="Credits by deployment" keyLabel="Deployment" amountLabel="Credits used" noneLabel="Not a deployment" unit={ctx.unit} pageSize={25} />
    </Stack>
  );
}

export function GuardrailsTab() {
  const ctx = useAccount();
  if (!ctx) return null;
  return (
    <Stack spacing={2} sx={{ py: 1 }}>
      <Typography variant="body2" color="text.secondary">
        Guardrail credits come out of the model credits balance shown on the Overview tab.
      </Typography>
      <GuardrailDeployments accountId={ctx.id} />
      <TopTable accountId={ctx.id} dimension="block" title="Guardrails and blocks" keyLabel="Name" amountLabel="Credits" noneLabel="Not a block" unit={ctx.unit} pageSize={25} />
    </Stack>
  );
}

export function ScriptsTab() {
  const ctx = useAccount();
  if (!ctx) return null;
  return (
    <Stack spacing={2} sx={{ py: 1 }}>
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2 }}>
        <SplitTotal accountId={ctx.id} dimension="work_kind" value="custom_script" title="Hosting credits (custom scripts)" unit={ctx.unit} />
      </Stack>
      <ScriptDeployments accountId={ctx.id} plan={{ planId: ctx.account.plan_id, version: ctx.account.plan_version }} />
      <TopTable accountId={ctx.id} dimension="deployment_id" title="Deployed scripts and hosting" keyLabel="Deployment" amountLabel="Credits used" noneLabel="Not a deployment" unit={ctx.unit} pageSize={25} />
    </Stack>
  );
}
