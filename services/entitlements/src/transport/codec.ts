import { workKindToProto } from "@tollgate/eligibility";
import { InvalidArgumentError } from "@tollgate/errors";
import { commonV1, entitlementsV1 } from "@tollgate/proto";
import type { Account } from "../data/account.entity.js";
import type { PlanVersion } from "../data/plan-version.entity.js";

const E = entitlementsV1;

/** Maps an enum value to its domain name via its proto name: DEPLOYMENT_MODE_SELF_HOSTED → self_hosted. */
function enumName(protoName: string, prefix: string): string {
  return protoName.slice(prefix.length).toLowerCase();
}

export function deploymentModeFromProto(mode: entitlementsV1.DeploymentMode, field: string): "cloud" | "self_hosted" {
  if (mode === E.DeploymentMode.DEPLOYMENT_MODE_UNSPECIFIED) return "cloud";
  if (!(mode in E.DeploymentMode)) throw new InvalidArgumentError(field, "unknown deployment mode");
  return enumName(E.deploymentModeToJSON(mode), "DEPLOYMENT_MODE_") as "cloud" | "self_hosted";
}

export function billingModeFromProto(mode: entitlementsV1.BillingMode, field: string): "credits" | "byom_usd" {
  if (mode === E.BillingMode.BILLING_MODE_UNSPECIFIED) return "credits";
  if (!(mode in E.BillingMode)) throw new InvalidArgumentError(field, "unknown billing mode");
  return enumName(E.billingModeToJSON(mode), "BILLING_MODE_") as "credits" | "byom_usd";
}



/** Where a free-tier plan that names none shows its upgrade prompt (seed 002: "at 75% usage, an upgrade button appears"). */
export const FREE_TIER_UPGRADE_PROMPT_PERCENT = 75;

/**
 * The alerts and prompts of a plan that sets no thresholds (SPEC's, seeds 001
 * and 002): banners at 20, 50, 70, 80 and 90 % used and a fixed one at 100 %,
 * emails at 50, 70, 80 and 90 %, the upgrade prompt at 75 % and the referral
 * prompt at 50 %. A plan that wants none sends `thresholds` with empty lists
 * and zero prompts.
 */
export const DEFAULT_THRESHOLDS: entitlementsV1.NotificationThresholds = {
  bannerPercents: [20, 50, 70, 80, 90, 100],
  emailPercents: [50, 70, 80, 90],
  upgradePromptPercent: FREE_TIER_UPGRADE_PROMPT_PERCENT,
  referralPromptPercent: 50,
};

/**
 * A plan version as published, with the defaults every reader gets alike, so
 * the ledger emits the crossings notifications turns into alerts: a plan that
 * sets no thresholds has DEFAULT_THRESHOLDS, and a free-tier plan with no
 * upgrade prompt has it at FREE_TIER_UPGRADE_PROMPT_PERCENT.
 */
export function planToProto(row: PlanVersion): entitlementsV1.Plan {
  const plan = {
    ...E.Plan.fromJSON(row.document),
    planId: row.planId,
    version: row.version,
    publishedAt: row.publishedAt,
    publishedBy: row.publishedBy,
    publishedOnBehalfOf: row.publishedOnBehalfOf ?? "",
  };
  plan.thresholds ??= E.NotificationThresholds.fromPartial(DEFAULT_THRESHOLDS);
  if (plan.freeTier && !plan.thresholds.upgradePromptPercent) {
    plan.thresholds = { ...plan.thresholds, upgradePromptPercent: FREE_TIER_UPGRADE_PROMPT_PERCENT };
  }
  return plan;
}

export function accountToProto(account: Account): entitlementsV1.Account {
  return {
    accountId: account.accountId,
    name: account.name,
    planId: account.planId,
    planVersion: account.planVersion,
    seats: account.seats,
    deploymentMode: E.deploymentModeFromJSON(`DEPLOYMENT_MODE_${account.deploymentMode.toUpperCase()}`),
    billingMode: E.billingModeFromJSON(`BILLING_MODE_${account.billingMode.toUpperCase()}`),
    cycleAnchor: account.cycleAnchor,
    status: E.accountStatusFromJSON(`ACCOUNT_STATUS_${account.status.toUpperCase()}`),
    adminEmails: account.adminEmails,
    revision: account.revision,
    createdAt: account.createdAt,
    spendCapMicros: account.spendCapMicros,
    limitOverrides: account.limitOverrides.map((o) => ({
      unit: commonV1.unitFromJSON(`UNIT_${o.unit.toUpperCase()}`),
      lowCreditLimitMicros: o.lowCreditLimitMicros,
      negativeLimitMicros: o.negativeLimitMicros,
      workKind: workKindToProto(o.workKind),
      draftsAtZero: o.draftsAtZero === true,
      stopMessage: o.stopMessage ?? "",
    })),
  };
}

