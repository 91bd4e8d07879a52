import { Card, CardContent, CardHeader, Chip, Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";
import type { Account, LimitOverride } from "../api-types";
import { formatAmount, toMicros } from "../money";

/** The kinds of work (tollgate.common.v1.WorkKind) in words. */
export const WORK_KIND_LABELS: Record<string, string> = {
  model_reply: "Model replies",
  tool_run: "Tool runs",
  guardrail: "Guardrails",
  custom_script: "Custom scripts",
  model_hosting: "Model hosting",
  fine_tuning: "Fine-tuning",
  agent_run: "Agent runs",
};
export const WORK_KINDS = Object.keys(WORK_KIND_LABELS);
export const workKindLabel = (kind: string) => WORK_KIND_LABELS[kind] ?? kind.replace(/_/g, " ");

export interface KindLimitRow {
  workKind: string;
  unit: string;
  limits: LimitOverride;
  /** The account overrides the plan's limits for this kind. */
  overridden: boolean;
  /** balance − held of the unit now. */
  availableMicros: bigint;
  /** New work of the kind: allowed, refused below its low-credit limit, or refused at zero (drafts only when the kind allows them). */
  newWork: "allowed" | "below_low_credit_limit" | "insufficient" | "drafts_only";
  /** How much more running work of the kind may use before it stops at its negative limit. */
  roomMicros: bigint;
}

/** The limits per kind of work that apply to the account (its overrides over its plan's), and what they mean at its balance now (rules/kind-limits.ts). */
export function kindLimitRows(account: Account): KindLimitRow[] {
  const rows = new Map<string, { limits: LimitOverride; overridden: boolean }>();
  for (const l of account.plan?.limits ?? []) if (l.work_kind) rows.set(`${l.unit}:${l.work_kind}`, { limits: l, overridden: false });
  for (const l of account.limit_overrides ?? []) if (l.work_kind) rows.set(`${l.unit}:${l.work_kind}`, { limits: l, overridden: true });
  const units = account.balance?.units ?? [];
  return [...rows.values()]
    .map(({ limits, overridden }) => {
      const available = toMicros(units.find((u) => u.unit === limits.unit)?.available_micros ?? "0");
      const low = toMicros(limits.low_credit_limit_micros);
      const newWork: KindLimitRow["newWork"] =
        low > 0n && available < low ? (available <= 0n && limits.drafts_at_zero ? "drafts_only" : "below_low_credit_limit")
        : available <= 0n ? (limits.drafts_at_zero ? "drafts_only" : "insufficient")
        : "allowed";
      const room = available + toMicros(limits.negative_limit_micros);
      return { workKind: limits.work_kind!, unit: limits.unit, limits, overridden, availableMicros: available, newWork, roomMicros: room > 0n ? room : 0n };
    })
    .sort((a, b) => WORK_KINDS.indexOf(a.workKind) - WORK_KINDS.indexOf(b.workKind));
}

const NEW_WORK: Record<KindLimitRow["newWork"], { label: string; color: "success" | "warning" | "error" }> = {
  allowed: { label: "Allowed", color: "success" },
  below_low_credit_limit: { label: "Refused: below the low-credit limit", color: "warning" },
  insufficient: { label: "Refused: no credits left", color: "error" },
  drafts_only: { label: "Drafts only", color: "error" },
};

/** The account's limits per kind of work: the plan's (or the account's override), and what new and running work of each kind may do now. */
export function KindLimitsPanel({ account }: { account: Account }) {
  const rows = kindLimitRows(account);
  return (
    <Card variant="outlined" data-testid="kind-limits">
      <CardHeader title="Limits by kind of work" titleTypographyProps={{ variant: "subtitle1" }} />
      <CardContent sx={{ pt: 0 }}>
        {rows.length === 0 ? (
          <Typography color="text.secondary">The plan sets no limits per kind of work: every kind uses its unit's limits.</Typography>
        ) : (
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>Kind of work</TableCell>
                <TableCell align="right">Low-credit limit</TableCell>
                <TableCell align="right">Negative limit</TableCell>
                <TableCell>At zero</TableCell>
                <TableCell>New work now</TableCell>
                <TableCell align="right">Room before running work stops</TableCell>
                <TableCell>Set by</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {rows.map((r) => (
                <TableRow key={`${r.unit}:${r.workKind}`} data-testid={`kind-limit-${r.workKind}`}>
                  <TableCell>{workKindLabel(r.workKind)}</TableCell>
                  <TableCell align="right">{formatAmount(r.limits.low_credit_limit_micros, r.unit)}</TableCell>
                  <TableCell align="right">{formatAmount(r.limits.negative_limit_micros, r.unit)}</TableCell>
                  <TableCell>{r.limits.drafts_at_zero ? "Drafts only" : "Refused"}</TableCell>
                  <TableCell>
                    <Chip size="small" variant="outlined" color={NEW_WORK[r.newWork].color} label={NEW_WORK[r.newWork].label} data-testid={`kind-new-work-${r.workKind}`} />
                  </TableCell>
                  <TableCell align="right">{formatAmount(r.roomMicros.toString(), r.unit)}</TableCell>
                  <TableCell>{r.overridden ? "Account override" : "Plan"}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}
