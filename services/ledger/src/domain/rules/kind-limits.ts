import type { DenialReason } from "../commands.js";
import { holdFits, startMinimum } from "./limits.js";

/**
 * # Limits per kind of work
 *
 * A plan sets a unit's limits (the low-credit limit for new deployments, the
 * negative limit the balance never goes below) and may set limits per kind of
 * work in that unit (guardrail, custom script, model hosting…). A kind's own
 * row replaces the unit's for work of that kind:
 *
 * 1. New work of the kind (Authorize, StartRun, Deploy, a Meter stream's open)
 *    needs its low-credit limit available (balance − held), else
 *    BELOW_LOW_CREDIT_LIMIT; with no low-credit limit it needs something left
 *    (a hold: its estimate), else INSUFFICIENT_CREDITS.
 * 2. Running work of the kind goes on below the low-credit limit and into
 *    negative credits, and stops when the available balance reaches −its
 *    negative limit (at exactly the limit too: the next charge could collect
 *    nothing of the kind's room), with the kind's stop message. The unit's
 *    negative limit still bounds what any charge collects, so a kind's may not
 *    exceed it (entitlements refuses such a plan).
 * 3. At zero or below, a kind with `draftsAtZero` is still refused, and the
 *    denial says `draftsOnly`: the caller may save the work as a draft, never
 *    start it (seed 001's custom scripts import as drafts only).
 *
 * Work of no kind, or of a kind without its own row, keeps the unit's limits.
 */
export interface KindLimits {
  unit: string;
  /** The kind's name: "guardrail", "custom_script", "model_hosting"… */
  workKind: string;
  lowCreditLimitMicros: bigint;
  negativeLimitMicros: bigint;
  draftsAtZero: boolean;
  /** Empty: the platform's stop message. */
  stopMessage: string;
}

/**
 * The kinds a deployment may be: guardrails, custom scripts and hosted models
 * (seed 001; a model reply, a tool run, fine-tuning or an agent run is never
 * deployed). A deployment of no kind keeps its unit's limits.
 */
export const DEPLOYED_KINDS: readonly string[] = ["guardrail", "custom_script", "model_hosting"];

/** The limits that apply to one piece of work. `own`: the kind has its own row. */
export interface AppliedLimits {
  own: boolean;
  workKind: string;
  lowCreditLimitMicros: bigint;
  negativeLimitMicros: bigint;
  draftsAtZero: boolean;
  stopMessage: string;
}

/** The kind's own limits in `unit`, else the unit's. */
export function limitsFor(
  unitLimits: { lowCreditLimitMicros: bigint; negativeLimitMicros: bigint } | undefined,
  kinds: readonly KindLimits[] | undefined,
  unit: string,
  workKind: string,
): AppliedLimits {
  const own = workKind ? kinds?.find((k) => k.unit === unit && k.workKind === workKind) : undefined;
  if (own) return { own: true, workKind, lowCreditLimitMicros: own.lowCreditLimitMicros, negativeLimitMicros: own.negativeLimitMicros, draftsAtZero: own.draftsAtZero, stopMessage: own.stopMessage };
  return { own: false, workKind, lowCreditLimitMicros: unitLimits?.lowCreditLimitMicros ?? 0n, negativeLimitMicros: unitLimits?.negativeLimitMicros ?? 0n, draftsAtZero: false, stopMessage: "" };
}

export interface NewWorkDecision {
  fits: boolean;
  /** The denial when it does not fit (before spend cap and expired free credits, which denial.ts names first). */
  denial: DenialReason;
  /** What the work needs available. */
  minimumMicros: bigint;
  /** Denied at zero or below, and the kind allows drafts. */
  draftsOnly: boolean;
}

/**
 * Whether new work may start: `work` is a hold (Authorize, a Meter open, with
 * its estimate) or metered work (a run or a deployment).
 */
export function newWork(input: { work: "hold" | "run" | "deployment"; limits: AppliedLimits; availableMicros: bigint; amountMicros?: bigint }): NewWorkDecision {
  const { limits, availableMicros } = input;
  let fits: boolean;
  let denial: DenialReason = "INSUFFICIENT_CREDITS";
  let minimumMicros: bigint;
  if (limits.own) {
    const belowLowCredit = limits.lowCreditLimitMicros > 0n && availableMicros < limits.lowCreditLimitMicros;
    const needed = input.work === "hold" ? (input.amountMicros ?? 0n) : 1n;
    minimumMicros = limits.lowCreditLimitMicros > needed ? limits.lowCreditLimitMicros : needed;
    if (belowLowCredit) {
      fits = false;
      denial = "BELOW_LOW_CREDIT_LIMIT";
    } else {
      fits = input.work === "hold" ? holdFits(availableMicros, needed) : availableMicros >= needed;
    }
  } else if (input.work === "hold") {
    minimumMicros = input.amountMicros ?? 0n;
    fits = holdFits(availableMicros, minimumMicros);
  } else {
    const start = startMinimum(input.work, limits.lowCreditLimitMicros);
    minimumMicros = start.minimumMicros;
    denial = start.denial;
    fits = availableMicros >= minimumMicros;
  }
  return { fits, denial, minimumMicros, draftsOnly: !fits && limits.draftsAtZero && availableMicros <= 0n };
}

/**
 * Whether running work of a kind with its own limits stops after a charge
 * left `availableAfterMicros` (balance − held): at or below −its negative
 * limit. Work under the unit's limits stops when a charge cannot proceed.
 */
export function stopsRunningWork(limits: AppliedLimits, availableAfterMicros: bigint): boolean {
  return limits.own && availableAfterMicros <= -limits.negativeLimitMicros;
}
