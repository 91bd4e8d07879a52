/** A threshold crossing reported by the ledger, in domain terms. */
export interface ThresholdCrossing {
  accountId: string;
  unit: "credits" | "tool_runs" | "usd";
  thresholdPercent: number;
  percentUsed: number;
  cycle: string;
}

export interface BannerDraft {
  accountId: string;
  rule: string;
  kind: "dismissible" | "fixed";
  message: string;
  unit: string;
  thresholdPercent: number;
  /** One banner per (account, unit, cycle, rule): the key that makes delivery exactly-once. */
  dedupKey: string;
}

/** Default banner thresholds from seed 001; 100 % is fixed, the rest dismissible. */
export const DEFAULT_BANNER_PERCENTS = [20, 50, 70, 80, 90, 100];

const UNIT_LABEL = { credits: "credits", tool_runs: "tool runs", usd: "spend cap" } as const;

export function bannerFor(crossing: ThresholdCrossing, bannerPercents: number[] = DEFAULT_BANNER_PERCENTS): BannerDraft | undefined {
  if (!bannerPercents.includes(crossing.thresholdPercent)) return undefined;
  const rule = `usage_${crossing.thresholdPercent}`;
  const label = UNIT_LABEL[crossing.unit];
  const fixed = crossing.thresholdPercent >= 100;
  return {
    accountId: crossing.accountId,
    rule,
    kind: fixed ? "fixed" : "dismissible",
    message: fixed
      ? `You have used all of your ${label} for this cycle. Upgrade or top up your plan to continue.`
      : `You have used ${crossing.thresholdPercent}% of your ${label} for this cycle. Top up or upgrade to avoid interruptions.`,
    unit: crossing.unit,
    thresholdPercent: crossing.thresholdPercent,
    dedupKey: `${crossing.accountId}:${crossing.unit}:${crossing.cycle}:${rule}`,
  };
}
