/**
 * Notification rules: what a ledger event turns into. The thresholds are data
 * on the account's plan; the defaults are those of seed 001.
 */
import { formatMicros, type Unit } from "@tollgate/rating";
import { deploymentAlert, stoppedAlert } from "./work-alerts.js";

export type { Unit };

export type LedgerEventFacts =
  | { kind: "threshold_crossed"; accountId: string; sequence: bigint; unit: Unit; thresholdPercent: number; percentUsed: number; cycle: string }
  | { kind: "pool_expired"; accountId: string; poolId: string; poolKind: string; unit: Unit; expiredMicros: bigint }
  | { kind: "work_stopped"; accountId: string; sequence: bigint; runId: string; deploymentId: string; message: string; workKind?: string; budgetId?: string }
  | { kind: "deployment_changed"; accountId: string; sequence: bigint; deploymentId: string; state: string; endpoint: string; replicas: number; workKind?: string }
  | { kind: "spend_cap_reached"; accountId: string; capMicros: bigint; spentMicros: bigint; cycle: string }
  | {
      kind: "negative_limit_reached"; accountId: string; sequence: bigint; unit: Unit; balanceMicros: bigint; negativeLimitMicros: bigint; uncollectedMicros: bigint;
      cycle: string;
    }
  | { kind: "pool_reloaded"; accountId: string; sequence: bigint; poolId: string; unit: Unit; amountMicros: bigint; priceUsdMicros: bigint | undefined }
  | {
      kind: "budget_crossed"; accountId: string; sequence: bigint; budgetId: string; unit: Unit; scope: string; scopeId: string; mode: "soft" | "hard";
      thresholdPercent: number; percentUsed: number; usedMicros: bigint; limitMicros: bigint;
    }
  | { kind: "budget_lifted"; accountId: string; budgetId: string }
  | { kind: "cycle_started"; accountId: string; cycle: string }
  | { kind: "usage_receded"; accountId: string; unit: Unit; thresholdPercents: number[]; percentUsed: number; cycle: string };

export interface PlanRules {
  bannerPercents: number[];
  emailPercents: number[];
  upgradePromptPercent: number;
  referralPromptPercent: number;
  freeTier: boolean;
}

/**
 * The rules of an account whose plan entitlements does not name: no alerts.
 * (A plan that sets no thresholds comes with entitlements' defaults, which
 * the ledger emits its crossings for.)
 */
export const NO_RULES: PlanRules = { bannerPercents: [], emailPercents: [], upgradePromptPercent: 0, referralPromptPercent: 0, freeTier: false };

export interface BannerDraft {
  accountId: string;
  rule: string;
  kind: "dismissible" | "fixed";
  message: string;
  unit: string;
  thresholdPercent: number;
  /** One banner per (account, unit, cycle, rule): the key that makes it exactly once. */
  dedupKey: string;
  /** A budget's banner names its budget: taken down when the budget is lifted. */
  budgetId?: string;
}

export interface Recipients {
  /** Who gets emails: the account's notification recipients, or its admins when none are set. */
  emails: string[];
  /** The account's admins (always told when the spend cap is reached). */
  adminEmails: string[];
  webhooks: { url: string; secret: string }[];
  /** rule → channels; a rule not listed uses its default channels. */
  channelsByRule: Record<string, string[]>;
}

export interface DeliveryDraft {
  accountId: string;
  channel: "email" | "webhook";
  recipient: string;
  rule: string;
  dedupKey: string;
  payload: { type: string; subject: string; text: string; data: Record<string, unknown> };
}

const UNIT_LABEL: Record<Unit, string> = { credits: "credits", tool_runs: "tool runs", usd: "AI spend cap" };

/** Micro-units as a decimal number of units ("12.5"). */
const micros = formatMicros;
/** An amount with a true minus sign when below zero ("−30"), as the emails write debts. */
const signed = (value: bigint) => (value < 0n ? `−${micros(-value)}` : micros(value));
/** Micro-USD as dollars and cents ("$1.50"; sub-cent amounts keep their digits). */
const usd = (value: bigint) => {
  const [whole, fraction = ""] = micros(value).split(".");
  return `$${whole}.${fraction.padEnd(2, "0")}`;
};

export interface Decisions {
  banners: BannerDraft[];
  deliveries: DeliveryDraft[];
  /** Budgets whose banners no longer apply (removed, or raised past what they used). */
  lifted?: { accountId: string; budgetId: string }[];
  /** A new cycle of the account: the banners earlier cycles' crossings put up (CYCLE_BANNER_RULES) no longer apply. */
  newCycle?: { accountId: string; cycle: string };
  /** Thresholds of a unit's cycle usage fell back below: the banners their crossing put up (RECEDED_BANNER_RULES) no longer apply. */
  receded?: { accountId: string; unit: Unit; cycle: string; thresholdPercents: number[] };
}

/** The banners a threshold's crossing puts up, each with the threshold's percent: taken down when usage falls back below it. */
export const RECEDED_BANNER_RULES = (thresholdPercent: number): string[] => [`usage_${thresholdPercent}`, "upgrade_prompt", "referral_prompt"];

/**
 * The banners that say something of one cycle only, taken down when the next
 * begins: usage (`usage_<percent>`, the fixed 100 % one too), the prompts and
 * the run-out warning (their dedup keys name the cycle). A budget's banners
 * follow its own events; "free credits expired" stays (fixed: a unit with
 * no allotment is still refused FREE_CREDITS_EXPIRED in later cycles).
 */
export const CYCLE_BANNER_RULES = { prefix: "usage_", rules: ["upgrade_prompt", "referral_prompt", "run_out_warning"] } as const;

/** The rules a channel preference may name: these, `usage_<percent>` and `budget_<percent>` (a plan's or a budget's thresholds). */
export const FIXED_RULES = [
  "pool_reloaded", "work_stopped", "free_credits_expired", "deployment_deployed", "deployment_undeployed",
  ...CYCLE_BANNER_RULES.rules,
] as const;

/** The rules for what stops the account's work or spend: sent by every channel whatever the preferences (`alwaysToAdmins`). */
export const ALWAYS_SENT_RULES = ["negative_limit_reached", "spend_cap_reached"] as const;

/** Whether a channel preference may name `name`: a rule this service decides and routes by preference (one for another would never apply). */
export function isRuleName(name: string): boolean {
  return (FIXED_RULES as readonly string[]).includes(name) || /^(usage|budget)_[1-9]\d{0,3}$/.test(name);
}

/** For what stops the account's work or spend: the admins and the chosen recipients by email, and the webhooks, whatever the channel preferences. */
function alwaysToAdmins(recipients: Recipients): Recipients {
  // One mailbox however its address is cased (as SetPreferences keeps recipients): an admin also chosen as a recipient gets one email.
  const emails = new Map<string, string>();
  for (const email of [...recipients.adminEmails, ...recipients.emails]) if (!emails.has(email.toLowerCase())) emails.set(email.toLowerCase(), email);
  return { emails: [...emails.values()], adminEmails: [], webhooks: recipients.webhooks, channelsByRule: {} };
}

function deliveriesFor(
  base: { accountId: string; rule: string; key: string; type: string; subject: string; text: string; data: Record<string, unknown> },
  recipients: Recipients,
  defaultChannels: ("email" | "webhook")[],
): DeliveryDraft[] {
  const channels = recipients.channelsByRule[base.rule] ?? defaultChannels;
  const payload = { type: base.type, subject: base.subject, text: base.text, data: base.data };
  const drafts: DeliveryDraft[] = [];
  if (channels.includes("email")) {
    for (const email of recipients.emails) {
      drafts.push({ accountId: base.accountId, channel: "email", recipient: email, rule: base.rule, dedupKey: `${base.key}:email:${email}`, payload });
    }
  }
  if (channels.includes("webhook")) {
    for (const hook of recipients.webhooks) {
      drafts.push({ accountId: base.accountId, channel: "webhook", recipient: hook.url, rule: base.rule, dedupKey: `${base.key}:webhook:${hook.url}`, payload });
    }
  }
  return drafts;
}

/**
 * Which in-product prompts show now (seed 002's usage bar): the upgrade
 * button always on a free tier, otherwise from the plan's upgrade percent of
 * the cycle's credits used; the referral invite from its percent. A percent
 * of 0 is none.
 */
export function promptsShown(rules: Pick<PlanRules, "freeTier" | "upgradePromptPercent" | "referralPromptPercent">, percentUsed: number): { upgrade: boolean; referral: boolean } {
  const reached = (percent: number) => percent > 0 && percentUsed >= percent;
  return { upgrade: rules.freeTier || reached(rules.upgradePromptPercent), referral: reached(rules.referralPromptPercent) };
}

/** What one ledger event produces: banners, and one delivery per recipient and channel. */
export function decide(event: LedgerEventFacts, rules: PlanRules, recipients: Recipients): Decisions {
  if (event.kind === "deployment_changed") {
    // Deployment emails carry the endpoint's details and name the kind of work (seed 001; work-alerts.ts).
    const deployed = event.state === "deployed";
    const workKind = event.workKind ?? "";
    const alert = deploymentAlert({ ...event, workKind });
    return {
      banners: [],
      deliveries: deliveriesFor(
        {
          accountId: event.accountId,
          rule: deployed ? "deployment_deployed" : "deployment_undeployed",
          key: `${event.accountId}:deployment:${event.sequence}`,
          type: alert.type,
          subject: alert.subject,
          text: alert.text,
          data: { deployment_id: event.deploymentId, state: event.state, endpoint: event.endpoint, replicas: event.replicas, ...(workKind ? { work_kind: workKind } : {}) },
        },
        recipients,
        ["email", "webhook"],
      ),
    };
  }
  if (event.kind === "spend_cap_reached") {
    // Whatever the plan's thresholds and the channel preferences; once per cycle.
    return {
      banners: [],
      deliveries: deliveriesFor(
        {
          accountId: event.accountId, rule: "spend_cap_reached", key: `${event.accountId}:usd:${event.cycle}:spend_cap_reached`, type: "spend_cap.reached",
          subject: "Your AI spend cap is reached",
          text: `Account ${event.accountId} has spent ${usd(event.spentMicros)} of its ${usd(event.capMicros)} monthly AI spend cap. New requests are blocked until the cap is raised or the next cycle starts.`,
          data: { cap_micros: event.capMicros.toString(), spent_micros: event.spentMicros.toString(), cycle: event.cycle },
        },
        alwaysToAdmins(recipients),
        ["email", "webhook"],
      ),
    };
  }
  if (event.kind === "negative_limit_reached") {
    // Once per crossing (the ledger's rule); the event's sequence keys it. The admins are told (SPEC: running work stops), whatever the preferences.
    const unit = UNIT_LABEL[event.unit];
    return {
      banners: [],
      deliveries: deliveriesFor(
        {
          accountId: event.accountId, rule: "negative_limit_reached", key: `${event.accountId}:negative_limit:${event.sequence}`, type: "balance.negative_limit_reached",
          // Said as a customer reads it: with no overdraft the credits are used up; with one, the account owes what it may.
          ...(event.negativeLimitMicros === 0n
            ? {
                subject: `Your ${unit} are used up`,
                text: `Account ${event.accountId} has used all its ${unit}. New usage is not charged and running work stops; add ${unit} to continue.`,
              }
            : {
                subject: `Your ${unit} balance reached its overdraft limit`,
                text: `Account ${event.accountId} is at ${signed(event.balanceMicros)} ${unit}, as far below zero as it may go (its negative limit, ${signed(-event.negativeLimitMicros)}). `
                  + `New usage is not charged and running work stops; add ${unit} to continue.`,
              }),
          data: {
            unit: event.unit, balance_micros: event.balanceMicros.toString(), negative_limit_micros: event.negativeLimitMicros.toString(),
            uncollected_micros: event.uncollectedMicros.toString(), cycle: event.cycle,
          },
        },
        alwaysToAdmins(recipients),
        ["email", "webhook"],
      ),
    };
  }
  if (event.kind === "pool_reloaded") {
    // A purchase to bill: a webhook to the account's billing endpoints, keyed by the event (one reload, one delivery).
    const unit = UNIT_LABEL[event.unit];
    const price = event.priceUsdMicros === undefined ? "" : ` for ${usd(event.priceUsdMicros)}`;
    return {
      banners: [],
      deliveries: deliveriesFor(
        {
          accountId: event.accountId, rule: "pool_reloaded", key: `${event.accountId}:reload:${event.sequence}`, type: "pool.reloaded",
          subject: `Add-on ${unit} reloaded`,
          text: `Add-on pool ${event.poolId} was reloaded with ${micros(event.amountMicros)} ${unit}${price}.`,
          data: {
            pool_id: event.poolId, unit: event.unit, amount_micros: event.amountMicros.toString(),
            ...(event.priceUsdMicros === undefined ? {} : { price_usd_micros: event.priceUsdMicros.toString() }),
          },
        },
        recipients,
        ["webhook"],
      ),
    };
  }
  if (event.kind === "work_stopped") {
    // A stop happens once; the event's sequence keys it. The wording is the kind's (work-alerts.ts).
    const workKind = event.workKind ?? "";
    const alert = stoppedAlert({ ...event, workKind });
    return {
      banners: [],
      deliveries: deliveriesFor(
        {
          accountId: event.accountId,
          rule: "work_stopped",
          key: `${event.accountId}:stop:${event.sequence}`,
          type: alert.type,
          subject: alert.subject,
          text: alert.text,
          data: { run_id: event.runId, deployment_id: event.deploymentId, message: event.message, ...(workKind ? { work_kind: workKind } : {}), ...(event.budgetId ? { budget_id: event.budgetId } : {}) },
        },
        recipients,
        ["email", "webhook"],
      ),
    };
  }
  if (event.kind === "budget_crossed") return budgetCrossed(event, recipients);
  if (event.kind === "budget_lifted") return { banners: [], deliveries: [], lifted: [{ accountId: event.accountId, budgetId: event.budgetId }] };
  if (event.kind === "cycle_started") return { banners: [], deliveries: [], newCycle: { accountId: event.accountId, cycle: event.cycle } };
  if (event.kind === "usage_receded") {
    return { banners: [], deliveries: [], receded: { accountId: event.accountId, unit: event.unit, cycle: event.cycle, thresholdPercents: event.thresholdPercents } };
  }
  if (event.kind === "pool_expired") {
    if (event.poolKind !== "free_grant") return { banners: [], deliveries: [] };
    const key = `${event.accountId}:${event.poolId}:free_credits_expired`;
    const text = "Your free credits have expired. Upgrade your plan to keep going.";
    return {
      banners: [{ accountId: event.accountId, rule: "free_credits_expired", kind: "fixed", message: text, unit: event.unit, thresholdPercent: 0, dedupKey: key }],
      deliveries: deliveriesFor(
        { accountId: event.accountId, rule: "free_credits_expired", key, type: "pool.expired", subject: "Your free credits have expired", text, data: { pool_id: event.poolId, unit: event.unit, expired_micros: event.expiredMicros.toString() } },
        recipients,
        ["webhook"],
      ),
    };
  }

  const { accountId, unit, thresholdPercent: t, cycle } = event;
  const label = UNIT_LABEL[unit];
  const scope = `${accountId}:${unit}:${cycle}`;
  const banners: BannerDraft[] = [];
  const deliveries: DeliveryDraft[] = [];
  if (rules.bannerPercents.includes(t)) {
    const fixed = t >= 100;
    banners.push({
      accountId,
      rule: `usage_${t}`,
      kind: fixed ? "fixed" : "dismissible",
      message: fixed
        ? `You have used all of your ${label} for this cycle. Upgrade or top up your plan to continue.`
        : `You have used ${t}% of your ${label} for this cycle. Top up or upgrade to avoid interruptions.`,
      unit,
      thresholdPercent: t,
      dedupKey: `${scope}:usage_${t}`,
    });
  }
  if (unit === "credits" && t === rules.upgradePromptPercent) {
    banners.push({ accountId, rule: "upgrade_prompt", kind: "dismissible", message: "Running low? Upgrade for more credits every month.", unit, thresholdPercent: t, dedupKey: `${scope}:upgrade_prompt` });
  }
  if (unit === "credits" && t === rules.referralPromptPercent) {
    banners.push({ accountId, rule: "referral_prompt", kind: "dismissible", message: "Invite a friend and you both earn bonus credits.", unit, thresholdPercent: t, dedupKey: `${scope}:referral_prompt` });
  }
  const data = { unit, threshold_percent: t, percent_used: event.percentUsed, cycle };
  const subject = `You have used ${t}% of your ${label}`;
  const text = `Your account ${accountId} has used ${event.percentUsed}% of its ${label} for the cycle that started ${cycle.slice(0, 10)}.\n\nTo add credits, contact Platform Support or upgrade your plan.`;
  // Emails at the plan's email thresholds; webhooks for every crossing that has a banner or an email.
  const channels: ("email" | "webhook")[] = [];
  if (rules.emailPercents.includes(t)) channels.push("email");
  if (rules.emailPercents.includes(t) || rules.bannerPercents.includes(t)) channels.push("webhook");
  // Each crossing is told (usage that fell back below a threshold crosses it again); the event's sequence keys it.
  deliveries.push(...deliveriesFor({ accountId, rule: `usage_${t}`, key: `${scope}:usage_${t}:${event.sequence}`, type: "usage.threshold_crossed", subject, text, data }, recipients, channels));
  return { banners, deliveries };
}

const SCOPE_LABEL: Record<string, string> = { task: "task", agent: "agent", user: "user", workspace: "workspace", workspace_group: "workspace group" };

/**
 * A budget's threshold crossed: a banner and a webhook, once per crossing
 * (the ledger emits one event per threshold per period; its sequence keys
 * both, so a redelivered event changes nothing). A hard budget's banner at
 * 100 % is fixed: work under it is refused until support raises it.
 */
function budgetCrossed(event: Extract<LedgerEventFacts, { kind: "budget_crossed" }>, recipients: Recipients): Decisions {
  const t = event.thresholdPercent;
  const who = `${SCOPE_LABEL[event.scope] ?? event.scope} ${event.scopeId}`;
  // In dollars for USD ("$100.00 budget"), else a number of its unit ("100 credits budget").
  const amount = (value: bigint) => (event.unit === "usd" ? usd(value) : `${micros(value)} ${UNIT_LABEL[event.unit]}`);
  const stops = event.mode === "hard" && t >= 100;
  const text = stops
    ? `The ${who} has used all of its ${amount(event.limitMicros)} budget. New work under it is refused until the budget is raised.`
    : `The ${who} has used ${event.percentUsed}% of its ${amount(event.limitMicros)} budget (${event.unit === "usd" ? usd(event.usedMicros) : micros(event.usedMicros)} used).`;
  const key = `${event.accountId}:budget:${event.sequence}`;
  return {
    banners: [{ accountId: event.accountId, rule: `budget_${t}`, kind: stops ? "fixed" : "dismissible", message: text, unit: event.unit, thresholdPercent: t, dedupKey: key, budgetId: event.budgetId }],
    deliveries: deliveriesFor(
      {
        accountId: event.accountId, rule: `budget_${t}`, key, type: "budget.threshold_crossed", subject: `The ${who} reached ${t}% of its budget`, text,
        data: {
          budget_id: event.budgetId, unit: event.unit, scope: event.scope, scope_id: event.scopeId, mode: event.mode, threshold_percent: t,
          percent_used: event.percentUsed, used_micros: event.usedMicros.toString(), limit_micros: event.limitMicros.toString(),
        },
      },
      recipients,
      ["webhook"],
    ),
  };
}

const day = (date: Date) => date.toISOString().slice(0, 10);

/** The run-out projection warning: a banner and a webhook that say when, once per cycle. */
export function runOutWarning(accountId: string, cycle: string, runOutAt: Date, cycleEnd: Date, recipients: Recipients): Decisions {
  const key = `${accountId}:${cycle}:run_out_warning`;
  const text = `At the current rate your credits will run out on ${day(runOutAt)}, before the cycle ends on ${day(cycleEnd)}. Upgrade to keep going.`;
  return {
    banners: [{ accountId, rule: "run_out_warning", kind: "dismissible", message: text, unit: "credits", thresholdPercent: 0, dedupKey: key }],
    deliveries: deliveriesFor(
      {
        accountId, rule: "run_out_warning", key, type: "usage.run_out_projected", subject: "You are on track to run out of credits", text,
        data: { cycle, run_out_at: runOutAt.toISOString(), cycle_end: cycleEnd.toISOString() },
      },
      recipients,
      ["webhook"],
    ),
  };
}

/**
 * Retry policy: exponential backoff from `baseMs` (×2 per attempt, capped at
 * one hour), dead-lettered after `maxAttempts`.
 */
export function nextAttempt(attempts: number, baseMs: number, maxAttempts: number): { deadLetter: boolean; delayMs: number } {
  if (attempts >= maxAttempts) return { deadLetter: true, delayMs: 0 };
  return { deadLetter: false, delayMs: Math.min(baseMs * 2 ** (attempts - 1), 3_600_000) };
}
