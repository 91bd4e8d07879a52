import type { Account } from "../api-types";

/** The unit an account's cycle metrics, usage charts and top tables are in: USD for bring-your-own-model accounts, else credits. */
export function primaryUnit(account: Pick<Account, "billing_mode" | "balance"> | undefined): string {
  const mode = (account?.billing_mode ?? "").toLowerCase();
  if (mode.includes("byom") || mode.includes("usd")) return "usd";
  const units = account?.balance?.units ?? [];
  if (units.some((u) => u.unit === "credits") || units.length === 0) return "credits";
  return units[0]!.unit;
}

export const POOL_KINDS = ["monthly", "bonus", "add_on", "free_grant", "spend_cap"] as const;

export const POOL_LABELS: Record<string, string> = {
  monthly: "Monthly",
  bonus: "Bonus",
  add_on: "Add-on",
  free_grant: "Free grant",
  spend_cap: "Spend cap",
};

export const POOL_COLORS: Record<string, string> = {
  monthly: "#1976d2",
  bonus: "#8e24aa",
  add_on: "#2e7d32",
  free_grant: "#ef6c00",
  spend_cap: "#546e7a",
};
