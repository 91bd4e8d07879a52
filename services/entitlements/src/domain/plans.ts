import { InvalidArgumentError, NotFoundError } from "@tollgate/errors";
import { checkTableId, MAX_PRICED_MICROS } from "@tollgate/rating";
import type { PlanVersion } from "../data/plan-version.entity.js";
import type { EntitlementsStore } from "../data/entitlements-store.js";
import { kindsWithinUnits, limitsNotNegative, validateId, type LimitRow } from "./accounts.js";

/** The parts of a plan the rules check; the whole plan is kept as a document. */
export interface PlanRules {
  /** A unit's credits each cycle: at most one per unit. */
  allotments: { unit: string; amountMicros: bigint }[];
  /** Credits a new account is given once, at most one per unit. */
  signupGrants: { unit: string; amountMicros: bigint }[];
  limits: LimitRow[];
  bannerPercents: number[];
  emailPercents: number[];
  /** Where the upgrade and referral prompts show; 0 leaves it to the notifications service (its default or none). */
  upgradePromptPercent: number;
  referralPromptPercent: number;
  /** Add-on prices: micro-USD per whole unit, at most one per unit. */
  addOnPrices: { unit: string; usdMicrosPerUnit: bigint }[];
  /** Pool kinds after monthly, in draw-down order: each at most once (unset: the ledger's default order). */
  drawdownOrder?: string[];
  /** The rate table the plan's usage is priced by (empty: `default`); shaped as pricing names tables. */
  rateTableId?: string;
}

/** A threshold of a plan: a whole percent of the allotment used, from 1 to 100. */
function percent(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > 100) throw new InvalidArgumentError(field, "must be a whole percent from 1 to 100");
}

function percents(field: string, values: number[]): void {
  values.forEach((value, index) => {
    percent(`${field}[${index}]`, value);
    if (index > 0 && value <= values[index - 1]!) throw new InvalidArgumentError(`${field}[${index}]`, "thresholds must be in increasing order");
  });
}

/** A prompt's threshold: a percent, or 0 for none set. */
function promptPercent(field: string, value: number): void {
  if (value !== 0) percent(field, value);
}

export class Plans {
  constructor(private readonly store: Pick<EntitlementsStore, "appendPlan" | "latestPlan" | "planVersion">) {}

  /** Publishing creates a new version; accounts keep the version they are on until moved. */
  async publish(planId: string, rules: PlanRules, document: Record<string, unknown>, actor: string, reason: string, onBehalfOf?: string): Promise<PlanVersion> {
    validateId("plan.plan_id", planId);
    if (!actor) throw new InvalidArgumentError("actor", "is required");
    if (rules.rateTableId) checkTableId("plan.rate_table_id", rules.rateTableId);
    rules.allotments.forEach((a, index) => {
      if (a.unit === "UNIT_UNSPECIFIED") throw new InvalidArgumentError(`plan.allotments[${index}].unit`, "is required");
      if (a.amountMicros < 0n) throw new InvalidArgumentError(`plan.allotments[${index}].amount_micros`, "must not be negative");
      // A unit's cycle allotment is one pool (the ledger adds a unit's allotments up): two would be one, past the largest amount.
      if (rules.allotments.findIndex((other) => other.unit === a.unit) < index) {
        throw new InvalidArgumentError(`plan.allotments[${index}].unit`, `has an allotment already: ${a.unit}'s monthly credits are one allotment, its buckets saying what it pays for`);
      }
    });
    rules.signupGrants.forEach((g, index) => {
      if (g.unit === "UNIT_UNSPECIFIED") throw new InvalidArgumentError(`plan.signup_grants[${index}].unit`, "is required");
      if (g.amountMicros <= 0n) throw new InvalidArgumentError(`plan.signup_grants[${index}].amount_micros`, "must be positive");
      if (rules.signupGrants.findIndex((other) => other.unit === g.unit) < index) throw new InvalidArgumentError(`plan.signup_grants[${index}].unit`, "has a sign-up grant already");
    });
    rules.limits.forEach((l, index) => {
      if (l.unit === "UNIT_UNSPECIFIED") throw new InvalidArgumentError(`plan.limits[${index}].unit`, "is required");
      limitsNotNegative(l, `plan.limits[${index}]`);
      if (rules.limits.findIndex((other) => other.unit === l.unit && (other.workKind ?? "") === (l.workKind ?? "")) < index) {
        throw new InvalidArgumentError(`plan.limits[${index}]`, `has limits for ${l.workKind ? `${l.workKind} in ` : ""}${l.unit} already`);
      }
    });
    kindsWithinUnits(rules.limits, "plan.limits");
    rules.addOnPrices.forEach((price, index) => {
      if (price.unit === "UNIT_UNSPECIFIED") throw new InvalidArgumentError(`plan.add_on_prices[${index}].unit`, "is required");
      if (rules.addOnPrices.findIndex((other) => other.unit === price.unit) < index) throw new InvalidArgumentError(`plan.add_on_prices[${index}].unit`, "has a price already");
      if (price.usdMicrosPerUnit < 0n || price.usdMicrosPerUnit > MAX_PRICED_MICROS) {
        throw new InvalidArgumentError(`plan.add_on_prices[${index}].usd_micros_per_unit`, `must be from 0 to ${MAX_PRICED_MICROS}`);
      }
    });
    (rules.drawdownOrder ?? []).forEach((kind, index, order) => {
      if (order.indexOf(kind) < index) throw new InvalidArgumentError(`plan.drawdown_order[${index}]`, `names ${kind} twice: each pool kind is drawn from once, in one place of the order`);
    });
    percents("plan.thresholds.banner_percents", rules.bannerPercents);
    percents("plan.thresholds.email_percents", rules.emailPercents);
    promptPercent("plan.thresholds.upgrade_prompt_percent", rules.upgradePromptPercent);
    promptPercent("plan.thresholds.referral_prompt_percent", rules.referralPromptPercent);
    return this.store.appendPlan({ planId, document, publishedBy: actor, publishedOnBehalfOf: onBehalfOf ?? null, reason });
  }

  async get(planId: string, version: bigint): Promise<PlanVersion> {
    const plan = version > 0n ? await this.store.planVersion(version) : await this.store.latestPlan(planId);
    if (!plan || (planId && plan.planId !== planId)) throw new NotFoundError("plan", version > 0n ? (planId ? `${planId}@${version}` : `version ${version}`) : planId);
    return plan;
  }
}
