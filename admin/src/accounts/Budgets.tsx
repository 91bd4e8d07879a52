import Delete from "@mui/icons-material/Delete";
import Edit from "@mui/icons-material/Edit";
import Add from "@mui/icons-material/Add";
import { Button, Card, CardContent, Checkbox, FormControlLabel, LinearProgress, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Tooltip, Typography } from "@mui/material";
import { useState, type ReactNode } from "react";
import type { Budget, BudgetScope, SetBudgetBody } from "../api-types";
import { ActionDialog } from "../components/ActionDialog";
import { RESOURCES } from "../data-provider";
import { useRole, useTollgate } from "../hooks";
import { checkHumanAmount, formatAmount, microsToHuman, percentOf, unitLabel } from "../money";

const SCOPES: { value: BudgetScope; label: string }[] = [
  { value: "task", label: "Run or task" },
  { value: "agent", label: "Agent" },
  { value: "user", label: "User" },
  { value: "workspace", label: "Workspace" },
  { value: "workspace_group", label: "Workspace group" },
];
const scopeLabel = (scope: string) => SCOPES.find((s) => s.value === scope)?.label ?? scope;

/** A hard budget may warn too (its thresholds); a soft one always does (80 and 100 unless set). */
const modeLabel = (b: Budget) => {
  const warns = b.threshold_percents.length > 0 ? `warns at ${b.threshold_percents.join(", ")} %` : "";
  return b.mode === "hard" ? `Hard (refuses${warns ? `; ${warns}` : ""})` : `Soft (${warns})`;
};

/** The form's budget: its thresholds as typed ("50, 90"), read by `parsePercents` when sent. */
type Draft = Omit<SetBudgetBody, "reason" | "threshold_percents"> & { thresholds: string };
const NEW: Draft = { unit: "credits", scope: "agent", scope_id: "", limit: "", mode: "hard", per_cycle: true, thresholds: "" };

/** SetBudgetRequest.threshold_percents' bounds (ledger.proto): checked here so the field, not just the dialog, says what is wrong. */
const MAX_THRESHOLDS = 10;
const MAX_THRESHOLD_PERCENT = 1000;

/** "50, 90" as [50, 90], or what is wrong with it. Empty: none (the ledger's defaults). */
function parsePercents(text: string): number[] | { problem: string } {
  const parts = text.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > MAX_THRESHOLD_PERCENT)) return { problem: `Each must be a whole percent from 1 to ${MAX_THRESHOLD_PERCENT}` };
  const percents = parts.map(Number);
  if (percents.length > MAX_THRESHOLDS) return { problem: `At most ${MAX_THRESHOLDS}` };
  if (new Set(percents).size !== percents.length) return { problem: "Each at most once" };
  return percents;
}

/**
 * The account's budgets: used (and held) against each limit, and the
 * operator's action to set or change one, with a reason (audited).
 */
export function BudgetsPanel({ accountId, budgets }: { accountId: string; budgets: Budget[] }) {
  const { canOperate } = useRole();
  /** The budget being set: an existing one's id, or none for a new one. */
  const [editing, setEditing] = useState<{ draft: Draft; budgetId?: string } | null>(null);
  const [removing, setRemoving] = useState<Budget | null>(null);
  const edit = (b: Budget) =>
    // Every field the ledger keeps, thresholds included: a change sends the whole budget, and what it leaves out is reset.
    setEditing({
      budgetId: b.id,
      draft: { unit: b.unit, scope: b.scope, scope_id: b.scope_id, limit: microsToHuman(b.limit_micros), mode: b.mode, per_cycle: b.per_cycle, thresholds: b.threshold_percents.join(", ") },
    });
  const action = (testId: string, label: string, icon: ReactNode, onClick: () => void) => {
    const button = (
      <Button size="small" startIcon={icon} onClick={onClick} disabled={!canOperate} data-testid={testId}>
        {label}
      </Button>
    );
    return canOperate ? button : <Tooltip title="Needs the operator role"><span>{button}</span></Tooltip>;
  };
  return (
    <Card variant="outlined" data-testid="budgets">
      <CardContent>
        <Stack direction="row" sx={{ alignItems: "center", justifyContent: "space-between", mb: 1 }}>
          <Typography variant="subtitle2" color="text.secondary">
            Budgets
          </Typography>
          {action("budget-add-button", "Set budget", <Add />, () => setEditing({ draft: NEW }))}
        </Stack>
        {budgets.length === 0 ? (
          <Typography color="text.secondary" data-testid="budgets-empty">
            No budgets: runs, agents, users and workspaces may spend up to the account's balance.
          </Typography>
        ) : (
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>Scope</TableCell>
                <TableCell>Mode</TableCell>
                <TableCell>Used / limit</TableCell>
                <TableCell>Held</TableCell>
                <TableCell>Period</TableCell>
                <TableCell />
              </TableRow>
            </TableHead>
            <TableBody>
              {budgets.map((b) => (
                <TableRow key={b.id} data-testid={`budget-${b.id}`}>
                  <TableCell>
                    {scopeLabel(b.scope)} <strong>{b.scope_id}</strong>
                  </TableCell>
                  <TableCell>{modeLabel(b)}</TableCell>
                  <TableCell sx={{ minWidth: 200 }}>
                    <span data-testid={`budget-used-${b.id}`}>
                      {formatAmount(b.used_micros, b.unit)} / {formatAmount(b.limit_micros, b.unit)}
                    </span>
                    <LinearProgress variant="determinate" value={Math.min(100, percentOf(b.used_micros, b.limit_micros))} color={b.mode === "hard" ? "error" : "warning"} />
                  </TableCell>
                  <TableCell>{formatAmount(b.reserved_micros, b.unit)}</TableCell>
                  <TableCell>{b.per_cycle ? "This cycle" : "Since set"}</TableCell>
                  <TableCell align="right">
                    {action(`budget-edit-${b.id}`, "Edit", <Edit />, () => edit(b))}
                    {action(`budget-remove-${b.id}`, "Remove", <Delete />, () => setRemoving(b))}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
      {editing && <BudgetDialog accountId={accountId} initial={editing.draft} budgetId={editing.budgetId} onClose={() => setEditing(null)} />}
      {removing && <RemoveBudgetDialog accountId={accountId} budget={removing} onClose={() => setRemoving(null)} />}
    </Card>
  );
}

function RemoveBudgetDialog({ accountId, budget, onClose }: { accountId: string; budget: Budget; onClose: () => void }) {
  const provider = useTollgate();
  return (
    <ActionDialog
      open
      onClose={onClose}
      title={`Remove the ${scopeLabel(budget.scope).toLowerCase()} ${budget.scope_id} budget`}
      testId="budget-remove"
      target={budget.id}
      submitLabel="Remove budget"
      successMessage="Budget removed"
      onSubmit={(reason, idempotencyKey) => provider.deleteBudget(RESOURCES.accounts, { accountId, budgetId: budget.id, reason, idempotencyKey })}
    >
      {() => (
        <Typography data-testid="budget-remove-summary">
          It has used {formatAmount(budget.used_micros, budget.unit)} of {formatAmount(budget.limit_micros, budget.unit)}.
          {budget.mode === "hard" ? " Its work will no longer be refused at the limit." : " Its warnings stop."} Setting it again starts a new budget.
        </Typography>
      )}
    </ActionDialog>
  );
}

function BudgetDialog({ accountId, initial, budgetId, onClose }: { accountId: string; initial: Draft; budgetId: string | undefined; onClose: () => void }) {
  const existing = budgetId !== undefined;
  const provider = useTollgate();
  const [draft, setDraft] = useState<Draft>(initial);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  return (
    <ActionDialog
      open
      onClose={onClose}
      title={existing ? `Change the ${scopeLabel(draft.scope).toLowerCase()} ${draft.scope_id} budget` : "Set a budget"}
      testId="budget"
      target={budgetId ?? "new"}
      submitLabel="Set budget"
      successMessage="Budget set"
      validate={() => {
        if (!draft.scope_id.trim()) return { field: "scope_id", message: "Name the run, agent, user or workspace" };
        const problem = checkHumanAmount(draft.limit, { allowZero: true });
        if (problem) return { field: "limit", message: problem };
        const percents = parsePercents(draft.thresholds);
        return "problem" in percents ? { field: "threshold_percents", message: percents.problem } : null;
      }}
      onSubmit={(reason, idempotencyKey) => {
        const { thresholds, ...budget } = draft;
        const percents = parsePercents(thresholds) as number[];
        return provider.setBudget(RESOURCES.accounts, { accountId, ...budget, scope_id: budget.scope_id.trim(), limit: budget.limit.trim(), threshold_percents: percents, reason, idempotencyKey });
      }}
    >
      {(errorFor) => (
        <>
          <TextField select label="Scope" value={draft.scope} onChange={(e) => set("scope", e.target.value as BudgetScope)} disabled={existing} slotProps={{ htmlInput: { "data-testid": "budget-scope" }, select: { native: true } }}>
            {SCOPES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </TextField>
          <TextField
            label="Id (as the attribution names it)"
            value={draft.scope_id}
            onChange={(e) => set("scope_id", e.target.value)}
            disabled={existing}
            required
            error={Boolean(errorFor("scope_id"))}
            helperText={errorFor("scope_id") ?? "e.g. the agent_id, user_id or workspace_id its usage carries"}
            slotProps={{ htmlInput: { "data-testid": "budget-scope-id" } }}
          />
          <TextField
            label={`Limit (${unitLabel(draft.unit)})`}
            value={draft.limit}
            onChange={(e) => set("limit", e.target.value)}
            required
            placeholder="50"
            error={Boolean(errorFor("limit"))}
            helperText={errorFor("limit") ?? "What the scope may spend"}
            slotProps={{ htmlInput: { "data-testid": "budget-limit", inputMode: "decimal" } }}
          />
          <TextField select label="Mode" value={draft.mode} onChange={(e) => set("mode", e.target.value as Draft["mode"])} slotProps={{ htmlInput: { "data-testid": "budget-mode" }, select: { native: true } }}>
            <option value="hard">Hard: refuse work past the limit</option>
            <option value="soft">Soft: warn, never refuse</option>
          </TextField>
          <TextField
            label="Warn at (% of the limit)"
            value={draft.thresholds}
            onChange={(e) => set("thresholds", e.target.value)}
            placeholder="50, 90"
            error={Boolean(errorFor("threshold_percents"))}
            helperText={errorFor("threshold_percents") ?? "Comma-separated whole percents; empty: 80 and 100 for a soft budget, none for a hard one"}
            slotProps={{ htmlInput: { "data-testid": "budget-thresholds", inputMode: "numeric" } }}
          />
          <FormControlLabel
            control={<Checkbox checked={draft.per_cycle} onChange={(e) => set("per_cycle", e.target.checked)} slotProps={{ input: { "data-testid": "budget-per-cycle" } as object }} />}
            label="Per cycle (starts again each cycle)"
          />
        </>
      )}
    </ActionDialog>
  );
}
