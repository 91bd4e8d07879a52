import type { Bucket, EligibilityRule } from "@tollgate/eligibility";
import type { Unit } from "@tollgate/rating";
import type { KindLimits } from "./rules/kind-limits.js";

/** What the ledger needs to know of an account and its plan version, from the entitlements cache. */
export interface AccountView {
  accountId: string;
  status: "active" | "suspended";
  planId: string;
  planVersion: bigint;
  cycleAnchor: Date;
  rateTableId: string;
  /** Pool kinds after monthly, in draw-down order. */
  drawdownOrder: string[];
  /** Percent-used thresholds that emit events (banner and email thresholds together). */
  thresholdPercents: number[];
  units: { unit: Unit; allotmentMicros: bigint; negativeLimitMicros: bigint; lowCreditLimitMicros: bigint; kind?: "monthly" | "spend_cap" }[];
  /** Limits per kind of work: the plan's rows with a work kind, then the account's overrides of them. */
  kindLimits?: KindLimits[];
  /** Bring-your-own-model accounts: per-token replies are tracked in USD against the spend cap. */
  billingMode: "credits" | "byom_usd";
  seats: number;
  deploymentMode: "cloud" | "self_hosted";
  eligibility: EligibilityRule[];
  /** The buckets the plan meters (empty: every bucket its eligibility rules meter). */
  meteredBuckets: Bucket[];
  /** Sign-up grants, each given once per account as an expiring free_grant pool. */
  signupGrants: { unit: Unit; amountMicros: bigint; expiresAt: Date }[];
  /** The plan's add-on price per whole unit (micro-USD), for the units it prices. */
  addOnPrices?: Partial<Record<Unit, bigint>>;
}

/** The unit an account's usage is reported in unless another is asked for: USD for a bring-your-own-model account, else credits. */
export function usageUnit(view: Pick<AccountView, "billingMode">): Unit {
  return view.billingMode === "byom_usd" ? "usd" : "credits";
}

/** Where the hot path reads accounts and rates: in memory, filled on a miss, kept fresh by streams. */
export interface AccountDirectory {
  get(accountId: string): Promise<AccountView>;
}
