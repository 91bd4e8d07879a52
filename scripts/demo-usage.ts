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
