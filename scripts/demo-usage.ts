import { status } from "@grpc/grpc-js";
import { call, errorDetails } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1, type pricingV1 } from "@tollgate/proto";

const DAY_MS = 86_400_000;
/** Days of history `npm start` seeds, ending yesterday (all of it in the past, so a restart sends the same requests). */
export const HISTORY_DAYS = 30;

/**
 * Where the demo accounts' monthly cycles start: 20 days before `now`'s day,
 * so two thirds of the history fall in the current cycle whatever the date
 * (its used credits and run-out projection have a story) and the rest in the
 * previous one (the late-usage limit), none skipped.
 */
export function demoCycleAnchor(now: Date): Date {
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(day - 20 * 86_400_000);
}
/** Charges per account and day. */
const PER_DAY = 2;
/** Charges sent at once: the ledger's group commit takes them in a few transactions. */
const CONCURRENCY = 24;

/** Who did the work: a workspace, its group, a user, an agent, a tool it used. */
const PEOPLE = [
  { workspaceId: "ws-support", workspaceGroupId: "group-cx", userId: "ana", agentId: "triage-agent", tool: "ticket-lookup" },
  { workspaceId: "ws-sales", workspaceGroupId: "group-revenue", userId: "ben", agentId: "outreach-agent", tool: "crm-search" },
  { workspaceId: "ws-platform", workspaceGroupId: "group-eng", userId: "chen", agentId: "ops-agent", tool: "log-search" },
  { workspaceId: "ws-support", workspaceGroupId: "group-cx", userId: "dara", agentId: "triage-agent", tool: "kb-search" },
] as const;

/** The demo accounts' usage, by charge number (0–59; 60 consecutive numbers always make the same total). */
const ACCOUNTS: { accountId: string; usage: (k: number) => pricingV1.Usage }[] = [
  {
    // 360 credits per 30 days: 1,640 of the Hobby plan's 2,000 left on first start.
    accountId: "demo-support",
    usage: (k) => ({ kind: { $case: "modelReply", modelReply: { model: ["gpt-4o-mini", "claude-haiku-4.5", "claude-sonnet-4.6", "gpt-4o"][k % 4]!, replies: String(1 + (k % 3)) } } }),
  },
  {
    accountId: "demo-workspace",
    usage: (k) => ({
      kind: {
        $case: "modelTokens",
        modelTokens: { model: ["claude-sonnet-4.6", "claude-haiku-4.5", "gpt-5"][k % 3]!, inputTokens: String(20_000 + (k % 40) * 1_000), outputTokens: String(2_000 + (k % 40) * 100), cacheReadTokens: String(50_000), cacheWriteTokens: "0" },
      },
    }),
  },
];

export interface HistoryCharge {
  request: ledgerV1.ChargeRequest;
  day: string;
}

/**
 * The demo history: for each of the HISTORY_DAYS days before `now`'s day,
 * PER_DAY charges per demo account, reported late with when they happened
 * (`occurred_at`) and attributed to users, workspaces, groups, agents, tools
 * and surfaces (the model comes from the usage). Everything is fixed by the
 * date: keys and requests are the same on every start of that day, and any
 * 30 days carry the same usage.
 */
export function demoHistory(now: Date): HistoryCharge[] {
  const today = Math.floor(now.getTime() / DAY_MS);
  const charges: HistoryCharge[] = [];
  for (let back = HISTORY_DAYS; back >= 1; back--) {
    const dayNumber = today - back;
    const day = new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
    for (let j = 0; j < PER_DAY; j++) {
      const k = (dayNumber * PER_DAY + j) % 60;
      const person = PEOPLE[k % PEOPLE.length]!;
      for (const account of ACCOUNTS) {
        charges.push({
          day,
          request: ledgerV1.ChargeRequest.fromPartial({
            accountId: account.accountId,
            usage: account.usage(k),
            final: true,
            idempotencyKey: `demo-history-${account.accountId}-${day}-${j}`,
            occurredAt: new Date(dayNumber * DAY_MS + ((7 + k * 5) % 24) * 3_600_000 + j * 1_800_000),
            attribution: commonV1.Attribution.fromPartial({
              ...person, conversationId: `conv-${k % 7}`, surface: k % 3 === 0 ? commonV1.Surface.SURFACE_CLI : commonV1.Surface.SURFACE_WEB,
            }),
          }),
        });
      }
    }
  }
  return charges;
}

/**
 * Seeds the demo history through the public Charge RPC (journaled like any
 * usage, late usage landing on its day), CONCURRENCY calls at a time.
 * Idempotent: a restart replays what is already there. A day the ledger no
 * longer takes late usage for (before the previous cycle, or older than its
 * key retention) is skipped. `progress` hears how far it got, once it has
 * taken more than a couple of seconds.
 */
export async function recordDemoUsage(ledger: ledgerV1.LedgerServiceClient, options: { now?: Date; progress?: (done: number, total: number) => void } = {}): Promise<{ charged: number; skipped: number }> {
  const charges = demoHistory(options.now ?? new Date());
  const started = Date.now();
  let charged = 0;
  let skipped = 0;
  for (let i = 0; i < charges.length; i += CONCURRENCY) {
    await Promise.all(
      charges.slice(i, i + CONCURRENCY).map(async ({ request }) => {
        try {
          await call(ledger, ledger.charge, request);
          charged++;
        } catch (error) {
          if ((error as { code?: number }).code !== status.INVALID_ARGUMENT || errorDetails(error).fieldViolations[0]?.field !== "occurred_at") throw error;
          skipped++;
        }
      }),
    );
    if (Date.now() - started > 2_000) options.progress?.(Math.min(i + CONCURRENCY, charges.length), charges.length);
  }
  return { charged, skipped };
}

/**
 * A guardrail, a custom script and a fine-tuned model deployed on the demo
 * enterprise account, each as its kind of work, and the fine-tuning job that
 * made the model, so the console's Guardrails, Custom scripts and Models tabs
 * have something to show (the metering tick charges the deployments as they
 * run). Fixed idempotency keys: a second start replays instead of deploying
 * or charging twice.
 */
export async function deployDemoWork(ledger: ledgerV1.LedgerServiceClient): Promise<number> {
  const K = commonV1.WorkKind;
  const deployments: { deploymentId: string; hardware: pricingV1.Usage; replicas: number; labels: Record<string, string>; workKind: commonV1.WorkKind }[] = [
    { deploymentId: "pii-scanner", hardware: { kind: { $case: "cpuTime", cpuTime: { cpuType: "x86-standard", cores: "2", seconds: "0" } } }, replicas: 1, labels: { guardrail: "PII scanner" }, workKind: K.WORK_KIND_GUARDRAIL },
    { deploymentId: "invoice-parser", hardware: { kind: { $case: "hardwareProfileTime", hardwareProfileTime: { profile: "script-medium", seconds: "0" } } }, replicas: 1, labels: { language: "Python 3.12" }, workKind: K.WORK_KIND_CUSTOM_SCRIPT },
    { deploymentId: "support-llama-ft", hardware: { kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "0", seconds: "0" } } }, replicas: 2, labels: { type: "fine-tuned", model: "llama-3.1-8b" }, workKind: K.WORK_KIND_MODEL_HOSTING },
  ];
  // The fine-tuning job behind support-llama-ft: 2 million training tokens, 3 epochs on an A100 (12 credits at the demo rates).
  await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
    accountId: "demo-enterprise", final: true, idempotencyKey: "demo-fine-tune-support-llama-ft", workKind: K.WORK_KIND_FINE_TUNING,
    usage: { kind: { $case: "fineTuning", fineTuning: { trainingTokens: "2000000", sizeClass: "small", epochs: "3", hardware: "A100" } } },
    attribution: commonV1.Attribution.fromPartial({ model: "llama-3.1-8b" }),
  }));
  let deployed = 0;
  for (const d of deployments) {
    const answer = await call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({
      accountId: "demo-enterprise", ...d, idempotencyKey: `demo-deploy-${d.deploymentId}`, endpoint: `https://demo-agents.example/${d.deploymentId}`,
    }));
    if (answer.allowed) deployed++;
  }
  return deployed;
}
