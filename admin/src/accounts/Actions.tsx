import AddCircle from "@mui/icons-material/Add";
import Block from "@mui/icons-material/Block";
import PlayCircle from "@mui/icons-material/PlayCircle";
import Rule from "@mui/icons-material/Rule";
import Savings from "@mui/icons-material/Savings";
import SwapHoriz from "@mui/icons-material/SwapHoriz";
import Tune from "@mui/icons-material/Tune";
import { Button, Checkbox, FormControlLabel, TextField, Tooltip } from "@mui/material";
import { useState, type ReactNode } from "react";
import { TopToolbar, useRecordContext } from "react-admin";
import type { Account, Plan } from "../api-types";
import { ActionDialog } from "../components/ActionDialog";
import { RESOURCES } from "../data-provider";
import { useEveryRecord, useRole, useTollgate } from "../hooks";
import { checkHumanAmount, formatAmount, microsToHuman, toMicros, unitLabel } from "../money";
import { POOL_LABELS, primaryUnit } from "./account-units";
import { WORK_KINDS, workKindLabel } from "./KindLimits";

const GRANT_KINDS = ["bonus", "add_on", "free_grant"] as const;
const UNITS = ["credits", "tool_runs", "usd"] as const;

/** A toolbar button that is disabled (with the reason) when the role may not use it. */
function ActionButton({ allowed, needs, testId, icon, label, onClick }: { allowed: boolean; needs: string; testId: string; icon: ReactNode; label: string; onClick: () => void }) {
  const button = (
    <Button size="small" startIcon={icon} onClick={onClick} disabled={!allowed} data-testid={testId}>
      {label}
    </Button>
  );
  return allowed ? button : <Tooltip title={`Needs the ${needs} role`}><span>{button}</span></Tooltip>;
}

const field = (testId: string) => ({ htmlInput: { "data-testid": testId } });

function GrantAction({ account, allowed }: { account: Account; allowed: boolean }) {
  const provider = useTollgate();
  const [open, setOpen] = useState(false);
  const [poolKind, setPoolKind] = useState<string>("bonus");
  const [unit, setUnit] = useState<string>("credits");
  const [amount, setAmount] = useState("");
  const [expiresAt, setExpiresAt] = useState("");
  return (
    <>
      <ActionButton allowed={allowed} needs="operator" testId="grant-button" icon={<AddCircle />} label="Grant credits" onClick={() => setOpen(true)} />
      <ActionDialog
        open={open}
        onClose={() => setOpen(false)}
        title={`Grant to ${account.name || account.id}`}
        testId="grant"
        submitLabel="Grant"
        successMessage="Credits granted"
        validate={() => {
          const problem = checkHumanAmount(amount);
          return problem ? { field: "amount", message: problem } : null;
        }}
        onSubmit={(reason, idempotencyKey) =>
          provider.grantCredits(RESOURCES.accounts, {
            accountId: String(account.id),
            pool_kind: poolKind,
            unit,
            amount: amount.trim(),
            ...(expiresAt ? { expires_at: new Date(expiresAt).toISOString() } : {}),
            reason,
            idempotencyKey,
          })
        }
      >
        {(errorFor) => (
          <>
            <TextField select label="Pool kind" value={poolKind} onChange={(e) => setPoolKind(e.target.value)} error={Boolean(errorFor("pool_kind"))} helperText={errorFor("pool_kind")} slotProps={{ ...field("grant-pool-kind"), select: { native: true } }}>
              {GRANT_KINDS.map((k) => (
                <option key={k} value={k}>
                  {POOL_LABELS[k]}
                </option>
              ))}
            </TextField>
            <TextField select label="Unit" value={unit} onChange={(e) => setUnit(e.target.value)} error={Boolean(errorFor("unit"))} helperText={errorFor("unit")} slotProps={{ ...field("grant-unit"), select: { native: true } }}>
              {UNITS.map((u) => (
                <option key={u} value={u}>
                  {unitLabel(u)}
                </option>
              ))}
            </TextField>
            <TextField
              label={`Amount (${unitLabel(unit)})`}
              value={amount}
              onChange={(e) => setAmount(e.target.value)}
              required
              placeholder="500"
              error={Boolean(errorFor("amount"))}
              helperText={errorFor("amount") ?? "In whole units, e.g. 500 or 2.5"}
              slotProps={{ htmlInput: { "data-testid": "grant-amount", inputMode: "decimal" } }}
            />
            <TextField
              label="Expires at (optional)"
              type="datetime-local"
              value={expiresAt}
              onChange={(e) => setExpiresAt(e.target.value)}
              error={Boolean(errorFor("expires_at"))}
              helperText={errorFor("expires_at")}
              slotProps={{ ...field("grant-expires-at"), inputLabel: { shrink: true } }}
            />
          </>
        )}
      </ActionDialog>
    </>
  );
}

function AdjustAction({ account, allowed }: { account: Account; allowed: boolean }) {
  const provider = useTollgate();
  const pools = account.balance?.pools ?? [];
  const [open, setOpen] = useState(false);
  const [poolId, setPoolId] = useState("");
  const [amount, setAmount] = useState("");
  const pool = pools.find((p) => p.id === (poolId || pools[0]?.id));
  return (
    <>
      <ActionButton allowed={allowed} needs="operator" testId="adjust-button" icon={<Tune />} label="Adjust" onClick={() => setOpen(true)} />
      <ActionDialog
        open={open}
        onClose={() => setOpen(false)}
        title={`Adjust a pool of ${account.name || account.id}`}
        testId="adjust"
        submitLabel="Adjust"
        successMessage={(answer) =>
          (answer as { reload_stopped?: boolean }).reload_stopped ? "Adjustment posted; the pool's auto reload is now off, so what was taken back is not bought again" : "Adjustment posted"}
        validate={() => {
          if (!pool) return { field: "pool_id", message: "Choose a pool" };
          const problem = checkHumanAmount(amount, { signed: true });
          return problem ? { field: "amount", message: problem } : null;
        }}
        onSubmit={(reason, idempotencyKey) => provider.adjustBalance(RESOURCES.accounts, { accountId: String(account.id), pool_id: pool!.id, amount: amount.trim(), reason, idempotencyKey })}
      >
        {(errorFor) => (
          <>
            <TextField select label="Pool" value={pool?.id ?? ""} onChange={(e) => setPoolId(e.target.value)} error={Boolean(errorFor("pool_id"))} helperText={errorFor("pool_id")} slotProps={{ ...field("adjust-pool"), select: { native: true } }}>
              {pools.map((p) => (
                <option key={p.id} value={p.id}>
                  {`${POOL_LABELS[p.kind] ?? p.kind} · ${unitLabel(p.unit)} · ${formatAmount(p.balance_micros, p.unit)} left`}
                </option>
              ))}
            </TextField>
            <TextField
              label={`Amount (${unitLabel(pool?.unit ?? "credits")}, signed)`}
              value={amount}
              onChange={(e) => setAmount(e.target.value)}
              required
              placeholder="-2.5"
              error={Boolean(errorFor("amount"))}
              helperText={errorFor("amount") ?? "Positive adds, negative removes (a compensating entry)"}
              slotProps={field("adjust-amount")}
            />
          </>
        )}
      </ActionDialog>
    </>
  );
}

function StatusAction({ account, allowed }: { account: Account; allowed: boolean }) {
  const provider = useTollgate();
  const [open, setOpen] = useState(false);
  const suspended = account.status === "suspended";
  const next = suspended ? "active" : "suspended";
  return (
    <>
      <ActionButton
        allowed={allowed}
        needs="operator"
        testId={suspended ? "reactivate-button" : "suspend-button"}
        icon={suspended ? <PlayCircle /> : <Block />}
        label={suspended ? "Reactivate" : "Suspend"}
        onClick={() => setOpen(true)}
      />
      <ActionDialog
        open={open}
        onClose={() => setOpen(false)}
        title={`${suspended ? "Reactivate" : "Suspend"} ${account.name || account.id}`}
        testId="status"
        submitLabel={suspended ? "Reactivate" : "Suspend"}
        successMessage={suspended ? "Account reactivated" : "Account suspended"}
        onSubmit={(reason, idempotencyKey) => provider.setAccountStatus(RESOURCES.accounts, { accountId: String(account.id), status: next, reason, idempotencyKey })}
      />
    </>
  );
}

/** The account's own limits for a unit (or one kind of work in it), if it overrides the plan's. */
const overrideFor = (account: Account, unit: string, workKind = "") => (account.limit_overrides ?? []).find((o) => o.unit === unit && (o.work_kind ?? "") === workKind);

/** True for a bring-your-own-model account, billed in USD with a monthly spend cap. */
export const isByomUsd = (account: Pick<Account, "billing_mode">) => (account.billing_mode ?? "").toLowerCase() === "byom_usd";

function LimitsAction({ account, allowed }: { account: Account; allowed: boolean }) {
  const provider = useTollgate();
  const [open, setOpen] = useState(false);
  const [unit, setUnit] = useState<string>("credits");
  const [workKind, setWorkKind] = useState("");
  const [lowCredit, setLowCredit] = useState("");
  const [negative, setNegative] = useState("");
  const [draftsAtZero, setDraftsAtZero] = useState(false);
  const [stopMessage, setStopMessage] = useState("");
  // The form starts from the account's current override for the unit or kind (else the plan's kind row, else empty: the plan's limits apply).
  // A kind's override replaces its whole row, so its drafts-at-zero and stop message start from there too, or they would be wiped.
  const fill = (u: string, kind = "") => {
    const current = overrideFor(account, u, kind) ?? (kind ? account.plan?.limits?.find((l) => l.unit === u && l.work_kind === kind) : undefined);
    setUnit(u);
    setWorkKind(kind);
    setLowCredit(current ? microsToHuman(current.low_credit_limit_micros) : "");
    setNegative(current ? microsToHuman(current.negative_limit_micros) : "");
    setDraftsAtZero(current?.drafts_at_zero ?? false);
    setStopMessage(current?.stop_message ?? "");
  };
  const start = () => {
    const primary = primaryUnit(account);
    fill((UNITS as readonly string[]).includes(primary) ? primary : "credits");
    setOpen(true);
  };
  const current = overrideFor(account, unit, workKind);
  return (
    <>
      <ActionButton allowed={allowed} needs="operator" testId="limits-button" icon={<Rule />} label="Set limits" onClick={start} />
      <ActionDialog
        open={open}
        onClose={() => setOpen(false)}
        title={`Set the limits of ${account.name || account.id}`}
        testId="limits"
        submitLabel="Set limits"
        successMessage="Limits set"
        validate={() => {
          const low = checkHumanAmount(lowCredit, { allowZero: true });
          if (low) return { field: "low_credit_limit", message: low };
          const neg = checkHumanAmount(negative, { allowZero: true });
          return neg ? { field: "negative_limit", message: neg } : null;
        }}
        onSubmit={(reason, idempotencyKey) =>
          provider.setAccountLimits(RESOURCES.accounts, {
            accountId: String(account.id),
            unit,
            ...(workKind ? { work_kind: workKind, drafts_at_zero: draftsAtZero, stop_message: stopMessage } : {}),
            low_credit_limit: lowCredit.trim(),
            negative_limit: negative.trim(),
            reason,
            idempotencyKey,
          })
        }
      >
        {(errorFor) => (
          <>
            <TextField
              select
              label="Unit"
              value={unit}
              onChange={(e) => fill(e.target.value)}
              error={Boolean(errorFor("unit"))}
              helperText={
                errorFor("unit") ??
                (current
                  ? `Now overridden: negative limit ${formatAmount(current.negative_limit_micros, unit)} · low-credit limit ${formatAmount(current.low_credit_limit_micros, unit)}`
                  : "No override for this unit: the plan's limits apply")
              }
              slotProps={{ ...field("limits-unit"), select: { native: true } }}
            >
              {UNITS.map((u) => (
                <option key={u} value={u}>
                  {unitLabel(u)}
                </option>
              ))}
            </TextField>
            <TextField
              select
              label="Kind of work"
              value={workKind}
              onChange={(e) => fill(unit, e.target.value)}
              error={Boolean(errorFor("work_kind"))}
              helperText={errorFor("work_kind") ?? (workKind ? `Limits for ${workKindLabel(workKind).toLowerCase()} only; its negative limit may not exceed the unit's` : "Every kind of work without limits of its own")}
              slotProps={{ ...field("limits-work-kind"), select: { native: true } }}
            >
              <option value="">All work (the unit's limits)</option>
              {WORK_KINDS.map((k) => (
                <option key={k} value={k}>
                  {workKindLabel(k)}
                </option>
              ))}
            </TextField>
            <TextField
              label={`Low-credit limit (${unitLabel(unit)})`}
              value={lowCredit}
              onChange={(e) => setLowCredit(e.target.value)}
              required
              placeholder="10"
              error={Boolean(errorFor("low_credit_limit"))}
              helperText={errorFor("low_credit_limit") ?? "0 or more; overrides the plan's low-credit limit for this unit"}
              slotProps={{ htmlInput: { "data-testid": "limits-low-credit", inputMode: "decimal" } }}
            />
            <TextField
              label={`Negative limit (${unitLabel(unit)})`}
              value={negative}
              onChange={(e) => setNegative(e.target.value)}
              required
              placeholder="50"
              error={Boolean(errorFor("negative_limit"))}
              helperText={errorFor("negative_limit") ?? "How far below zero running work may take the balance; 0 or more"}
              slotProps={{ htmlInput: { "data-testid": "limits-negative", inputMode: "decimal" } }}
            />
            {workKind && (
              <>
                <FormControlLabel
                  control={<Checkbox checked={draftsAtZero} onChange={(e) => setDraftsAtZero(e.target.checked)} slotProps={{ input: { "data-testid": "limits-drafts-at-zero" } as object }} />}
                  label="Drafts only at zero (new work of this kind may still be saved as a draft)"
                />
                <TextField
                  label="Stop message"
                  value={stopMessage}
                  onChange={(e) => setStopMessage(e.target.value)}
                  multiline
                  error={Boolean(errorFor("stop_message"))}
                  helperText={errorFor("stop_message") ?? "What running work of this kind is told when it stops at its negative limit; empty: the platform's message"}
                  slotProps={{ htmlInput: { "data-testid": "limits-stop-message" } }}
                />
              </>
            )}
          </>
        )}
      </ActionDialog>
    </>
  );
}

function SpendCapAction({ account, allowed }: { account: Account; allowed: boolean }) {
  const provider = useTollgate();
  const [open, setOpen] = useState(false);
  const [amount, setAmount] = useState("");
  const hasCap = toMicros(account.spend_cap_micros) > 0n;
  const start = () => {
    setAmount(account.spend_cap_micros === undefined || account.spend_cap_micros === null ? "" : microsToHuman(account.spend_cap_micros));
    setOpen(true);
  };
  return (
    <>
      <ActionButton allowed={allowed} needs="operator" testId="spend-cap-button" icon={<Savings />} label="Set spend cap" onClick={start} />
      <ActionDialog
        open={open}
        onClose={() => setOpen(false)}
        title={`Set the monthly spend cap of ${account.name || account.id}`}
        testId="spend-cap"
        submitLabel="Set spend cap"
        successMessage="Spend cap set"
        validate={() => {
          const problem = checkHumanAmount(amount, { allowZero: true });
          return problem ? { field: "amount", message: problem } : null;
        }}
        onSubmit={(reason, idempotencyKey) => provider.setSpendCap(RESOURCES.accounts, { accountId: String(account.id), amount: amount.trim(), reason, idempotencyKey })}
      >
        {(errorFor) => (
          <TextField
            label="Monthly spend cap (USD)"
            value={amount}
            onChange={(e) => setAmount(e.target.value)}
            required
            placeholder="500"
            error={Boolean(errorFor("amount"))}
            helperText={errorFor("amount") ?? `${hasCap ? `Now ${formatAmount(account.spend_cap_micros, "usd")} a month` : "No cap now"}. 0 removes the cap.`}
            slotProps={{ htmlInput: { "data-testid": "spend-cap-amount", inputMode: "decimal" } }}
          />
        )}
      </ActionDialog>
    </>
  );
}

function ChangePlanAction({ account, allowed }: { account: Account; allowed: boolean }) {
  const provider = useTollgate();
  const [open, setOpen] = useState(false);
  const [planId, setPlanId] = useState(account.plan_id);
  // Each plan's newest version only (what ChangeAccountPlan moves an account to), not every version.
  const { data: plans } = useEveryRecord<Plan>(RESOURCES.plans, { all_versions: "false" }, open);
  const latest = new Map(plans.map((p) => [p.plan_id, p]));
  if (!latest.has(account.plan_id)) latest.set(account.plan_id, { plan_id: account.plan_id, name: account.plan_id } as Plan);
  const newest = latest.get(planId)?.version;
  // The same plan moves the account to its newest version: refused only when it is on that version already (or, not yet known, let through).
  const alreadyOn = planId === account.plan_id && newest !== undefined && String(newest) === String(account.plan_version);
  const now = `Now on ${account.plan_id} v${account.plan_version}`;
  return (
    <>
      <ActionButton allowed={allowed} needs="admin" testId="change-plan-button" icon={<SwapHoriz />} label="Change plan" onClick={() => { setPlanId(account.plan_id); setOpen(true); }} />
      <ActionDialog
        open={open}
        onClose={() => setOpen(false)}
        title={`Change the plan of ${account.name || account.id}`}
        testId="change-plan"
        submitLabel="Change plan"
        successMessage="Plan changed"
        validate={() => (alreadyOn ? { field: "plan_id", message: "The account is on this plan's newest version already: choose a different plan" } : null)}
        onSubmit={(reason, idempotencyKey) => provider.changePlan(RESOURCES.accounts, { accountId: String(account.id), plan_id: planId, reason, idempotencyKey })}
      >
        {(errorFor) => (
          <TextField select label="Plan" value={planId} onChange={(e) => setPlanId(e.target.value)} error={Boolean(errorFor("plan_id"))} helperText={errorFor("plan_id") ?? (planId === account.plan_id && newest !== undefined && !alreadyOn ? `${now}: moves it to v${String(newest)}` : now)} slotProps={{ ...field("change-plan-plan"), select: { native: true } }}>
            {[...latest.values()].map((p) => (
              <option key={p.plan_id} value={p.plan_id}>
                {`${p.name && p.name !== p.plan_id ? `${p.name} (${p.plan_id})` : p.plan_id}${p.version !== undefined ? ` · v${String(p.version)}` : ""}`}
              </option>
            ))}
          </TextField>
        )}
      </ActionDialog>
    </>
  );
}

/** The account's support actions; each needs a reason and is audited. Buttons the role may not use are disabled. */
export function AccountActions() {
  const account = useRecordContext<Account>();
  const { canOperate, canAdmin } = useRole();
  if (!account) return <TopToolbar />;
  return (
    <TopToolbar data-testid="account-actions">
      <GrantAction account={account} allowed={canOperate} />
      <AdjustAction account={account} allowed={canOperate} />
      <LimitsAction account={account} allowed={canOperate} />
      {isByomUsd(account) && <SpendCapAction account={account} allowed={canOperate} />}
      <StatusAction account={account} allowed={canOperate} />
      <ChangePlanAction account={account} allowed={canAdmin} />
    </TopToolbar>
  );
}
