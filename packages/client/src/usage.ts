import type { pricingV1 } from "@tollgate/proto";

/** One measured piece of work to price (tollgate.pricing.v1.Usage). */
export type Usage = pricingV1.Usage;

/** A count: a number (a safe integer), a bigint or a decimal string. */
export type Count = number | bigint | string;

const count = (value: Count | undefined, name: string): string => {
  if (value === undefined) return "0";
  if (typeof value === "number" && !Number.isSafeInteger(value)) throw new TypeError(`${name} must be a whole number, got ${value}`);
  const text = String(value);
  if (!/^\d+$/.test(text)) throw new TypeError(`${name} must be a non-negative whole number, got ${text}`);
  return text;
};

/** Constructors for the usage kinds a service reports most. */
export const usage = {
  /** Model replies, priced per reply. */
  replies(model: string, replies: Count = 1): Usage {
    return { kind: { $case: "modelReply", modelReply: { model, replies: count(replies, "replies") } } };
  },
  /** Model tokens, priced per million of each kind. */
  tokens(model: string, tokens: { input?: Count; output?: Count; cacheRead?: Count; cacheWrite?: Count }): Usage {
    return {
      kind: {
        $case: "modelTokens",
        modelTokens: {
          model,
          inputTokens: count(tokens.input, "input"),
          outputTokens: count(tokens.output, "output"),
          cacheReadTokens: count(tokens.cacheRead, "cacheRead"),
          cacheWriteTokens: count(tokens.cacheWrite, "cacheWrite"),
        },
      },
    };
  },
  /** Runs of a tool. */
  toolRuns(tool: string, runs: Count = 1): Usage {
    return { kind: { $case: "toolRun", toolRun: { tool, runs: count(runs, "runs") } } };
  },
  /** Runs of a workflow block, with the configuration that selects its price. */
  blockRuns(block: string, runs: Count = 1, configuration: Record<string, string> = {}): Usage {
    return { kind: { $case: "blockRun", blockRun: { block, runs: count(runs, "runs"), configuration } } };
  },
  /** Active seconds (the active-minute rate). */
  activeSeconds(seconds: Count): Usage {
    return { kind: { $case: "activeTime", activeTime: { seconds: count(seconds, "seconds") } } };
  },
};

/** What a usage's quantities count, by kind; everything else in it (model, tool, type, configuration) names what is used. */
const QUANTITIES = new Set(["replies", "inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "runs", "seconds", "trainingTokens", "epochs", "cores", "replicas"]);

/** The same usage with every quantity zero: what a final charge reports when nothing is left to count. */
export function zeroOf(value: Usage): Usage {
  const kind = value.kind;
  if (!kind) return value;
  const [name, inner] = Object.entries(kind).find(([key]) => key !== "$case")! as [string, Record<string, unknown>];
  const zeroed = Object.fromEntries(Object.entries(inner).map(([key, v]) => [key, QUANTITIES.has(key) ? (typeof v === "number" ? 0 : "0") : v]));
  return { kind: { $case: kind.$case, [name]: zeroed } as unknown as Usage["kind"] };
}
