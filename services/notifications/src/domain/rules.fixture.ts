import type { PlanRules } from "./rules.js";

/** A plan's rules for the domain tests: seed 001's alerts and seed 002's prompts. */
export const PLAN_RULES: PlanRules = {
  bannerPercents: [20, 50, 70, 80, 90, 100],
  emailPercents: [50, 70, 80, 90],
  upgradePromptPercent: 75,
  referralPromptPercent: 50,
  freeTier: false,
};
