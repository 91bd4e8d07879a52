import { Stack, Typography } from "@mui/material";
import { DateField, FunctionField, Labeled, Show, SimpleShowLayout, TextField, TopToolbar, useRecordContext, useRedirect } from "react-admin";
import type { Plan } from "../api-types";
import { JsonBlock } from "../components/JsonBlock";
import { PublishVersion } from "../components/PublishVersion";
import { RESOURCES, versionId } from "../data-provider";
import { useRecordLoadErrors, useTollgate } from "../hooks";
import { publisherOf } from "../publisher";
import { allotmentsText } from "./PlanList";

function PlanDetails() {
  const plan = useRecordContext<Plan>();
  if (!plan) return null;
  return (
    <Stack spacing={2}>
      <Labeled label="Allotments per cycle">
        <Typography variant="body2">{allotmentsText(plan)}</Typography>
      </Labeled>
      <Labeled label="Thresholds">
        <JsonBlock value={plan.thresholds} />
      </Labeled>
      <Labeled label="Plan document (rules as data)">
        <JsonBlock value={plan.document} maxHeight={600} />
      </Labeled>
    </Stack>
  );
}

/**
 * Publish a new version of this plan (admin): its document as JSON, starting
 * from this version's; entitlements checks it and names the field it refuses.
 * New accounts and plan changes get the new version; accounts already on the
 * plan keep theirs. The version opens once published.
 */
function PublishPlanAction() {
  const plan = useRecordContext<Plan>();
  const provider = useTollgate();
  const redirect = useRedirect();
  if (!plan) return <TopToolbar />;
  return (
    <TopToolbar>
      <PublishVersion
        testId="publish-plan"
        title={`New version of ${plan.plan_id}`}
        field="plan"
        label="Plan document (JSON)"
        helperText="As this version's document (its version, publish time and publisher are set when published). New accounts and plan changes get it; accounts on the plan keep theirs."
        initial={() => {
          const { version: _version, publishedAt: _publishedAt, publishedBy: _by, publishedOnBehalfOf: _for, ...rules } = (plan.document ?? {}) as Record<string, unknown>;
          return rules;
        }}
        accepts={(value) => value !== null && typeof value === "object" && !Array.isArray(value)}
        invalid="must be a JSON object: the plan's document"
        successMessage="Plan version published"
        publish={async (document, reason, idempotencyKey) => {
          const answer = await provider.publishPlan(RESOURCES.plans, { plan: document as Record<string, unknown>, reason, idempotencyKey });
          redirect("show", RESOURCES.plans, versionId(answer.plan.plan_id, answer.plan.version));
          return answer;
        }}
      />
    </TopToolbar>
  );
}

/** One plan version. */
export function PlanShow() {
  const loadErrors = useRecordLoadErrors();
  return (
    <Show queryOptions={loadErrors} title={<PlanTitle />} actions={<PublishPlanAction />}>
      <SimpleShowLayout>
        <TextField source="plan_id" label="Plan" />
        <TextField source="version" />
        <TextField source="name" />
        <TextField source="tier" />
        <DateField source="published_at" showTime />
        <FunctionField<Plan> label="Published by" render={(p) => publisherOf(p)} />
        <PlanDetails />
      </SimpleShowLayout>
    </Show>
  );
}

function PlanTitle() {
  const plan = useRecordContext<Plan>();
  return <span>{plan ? `Plan ${plan.plan_id} v${String(plan.version)}` : "Plan"}</span>;
}
