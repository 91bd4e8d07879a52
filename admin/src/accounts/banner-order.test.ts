import { describe, expect, it } from "vitest";
import type { Banner } from "../api-types";
import { orderBanners } from "./banner-order";

const banner = (rule: string, unit: string, threshold: number, kind: Banner["kind"] = "dismissible"): Banner => ({
  id: `${rule}-${unit}`, rule, kind, message: rule, unit, threshold_percent: threshold, created_at: null,
});

describe("banner order", () => {
  it("shows the highest usage threshold per unit and keeps the superseded ones aside, newest first", () => {
    const { shown, earlier } = orderBanners([
      banner("usage_20", "credits", 20),
      banner("usage_80", "credits", 80),
      banner("usage_50", "credits", 50),
      banner("usage_50", "tool_runs", 50),
      banner("usage_100", "usd", 100, "fixed"),
      banner("run_out", "credits", 0),
      banner("free_credits_expired", "credits", 0, "fixed"),
    ]);
    expect(shown.map((b) => b.id)).toEqual(["usage_80-credits", "usage_50-tool_runs", "usage_100-usd", "run_out-credits", "free_credits_expired-credits"]);
    expect(earlier.map((b) => b.id)).toEqual(["usage_50-credits", "usage_20-credits"]);
  });

  it("keeps everything when nothing is superseded", () => {
    expect(orderBanners([banner("usage_20", "credits", 20)])).toEqual({ shown: [banner("usage_20", "credits", 20)], earlier: [] });
  });
});
