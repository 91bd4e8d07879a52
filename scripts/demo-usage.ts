import { call } from "@tollgate/grpc-kit";
import { commonV1, ledgerV1, type pricingV1 } from "@tollgate/proto";

/**
 * Some usage for the demo accounts, so the console has something to show:
 * replies and token usage spread over workspaces, groups, users, agents and
 * surfaces, through the public Charge RPC (so it is journaled like any usage).
 */
export async function recordDemoUsage(ledger: ledgerV1.LedgerServiceClient): Promise<number> {
  const workspaces = [
    ["ws-support", "group-cx", "ana"],
    ["ws-sales", "group-revenue", "ben"],
    ["ws-platform", "group-eng", "chen"],
    ["ws-support", "group-cx", "dara"],
  ] as const;
  const plans: { accountId: string; usage: (i: number) => pricingV1.Usage; count: number }[] = [
    {
      accountId: "demo-support",
      count: 60,
      usage: (i) => ({ kind: { $case: "modelReply", modelReply: { model: ["gpt-4o-mini", "claude-haiku-4.5", "claude-sonnet-4.6", "gpt-4o"][i % 4]!, replies: String(1 + (i % 3)) } } }),
    },
    {
      accountId: "demo-workspace",
      count: 40,
      usage: (i) => ({
        kind: {
          $case: "modelTokens",
          modelTokens: { model: ["claude-sonnet-4.6", "claude-haiku-4.5", "gpt-5"][i % 3]!, inputTokens: String(20_000 + i * 1_000), outputTokens: String(2_000 + i * 100), cacheReadTokens: String(50_000), cacheWriteTokens: "0" },
        },
      }),
    },
  ];
  let charged = 0;
  for (const plan of plans) {
    for (let i = 0; i < plan.count; i++) {
      const [workspaceId, workspaceGroupId, userId] = workspaces[i % workspaces.length]!;
      await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({
        accountId: plan.accountId,
        usage: plan.usage(i),
        final: true,
        idempotencyKey: `demo-usage-${plan.accountId}-${i}`,
        attribution: commonV1.Attribution.fromPartial({
          workspaceId, workspaceGroupId, userId, agentId: `agent-${(i % 3) + 1}`, conversationId: `conv-${i % 7}`,
          surface: i % 3 === 0 ? commonV1.Surface.SURFACE_CLI : commonV1.Surface.SURFACE_WEB,
        }),
      }));
      charged++;
    }
  }
  return charged;
}

/**
 * A guardrail, a custom script and a fine-tuned model deployed on the demo
 * enterprise account, so the console's Guardrails, Custom scripts and Models
 * tabs have something to show (the metering tick charges them as they run).
 * Fixed idempotency keys: a second start replays instead of deploying twice.
 */
export async function deployDemoWork(ledger: ledgerV1.LedgerServiceClient): Promise<number> {
  const deployments: { deploymentId: string; hardware: pricingV1.Usage; replicas: number; labels: Record<string, string> }[] = [
    { deploymentId: "pii-scanner", hardware: { kind: { $case: "cpuTime", cpuTime: { cpuType: "x86-standard", cores: "2", seconds: "0" } } }, replicas: 1, labels: { guardrail: "PII scanner" } },
    { deploymentId: "invoice-parser", hardware: { kind: { $case: "hardwareProfileTime", hardwareProfileTime: { profile: "script-medium", seconds: "0" } } }, replicas: 1, labels: { language: "Python 3.12" } },
    { deploymentId: "support-llama-ft", hardware: { kind: { $case: "gpuTime", gpuTime: { gpuType: "A100", replicas: "0", seconds: "0" } } }, replicas: 2, labels: { type: "fine-tuned", model: "llama-3.1-8b" } },
  ];
  let deployed = 0;
  for (const d of deployments) {
    const answer = await call(ledger, ledger.deploy, ledgerV1.DeployRequest.fromPartial({
      accountId: "demo-enterprise", ...d, idempotencyKey: `demo-deploy-${d.deploymentId}`, endpoint: `https://demo-agents.example/${d.deploymentId}`,
    }));
    if (answer.allowed) deployed++;
  }
  return deployed;
}
