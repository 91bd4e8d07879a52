import type { Banner } from "../api-types";

const isUsage = (b: Banner) => /^usage_\d+$/.test(b.rule) && b.kind === "dismissible";

/**
 * What the account page shows first: every banner except usage-threshold
 * banners that a higher threshold of the same unit has superseded (80 % used
 * says all that 50 % did); those are returned as `earlier`, newest first.
 */
export function orderBanners(banners: readonly Banner[]): { shown: Banner[]; earlier: Banner[] } {
  const highest = new Map<string, number>();
  for (const b of banners) if (isUsage(b)) highest.set(b.unit, Math.max(highest.get(b.unit) ?? 0, b.threshold_percent));
  const shown: Banner[] = [];
  const earlier: Banner[] = [];
  for (const b of banners) (isUsage(b) && b.threshold_percent < highest.get(b.unit)! ? earlier : shown).push(b);
  earlier.sort((a, b) => b.threshold_percent - a.threshold_percent);
  return { shown, earlier };
}
