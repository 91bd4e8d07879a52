import { Stack, Typography } from "@mui/material";
import { DateField, Labeled, Show, SimpleShowLayout, TextField, useRecordContext } from "react-admin";
import type { Plan } from "../api-types";
import { JsonBlock } from "../components/JsonBlock";
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

/** One plan version. */
export function PlanShow() {
  return (
    <Show title={<PlanTitle />}>
      <SimpleShowLayout>
        <TextField source="plan_id" label="Plan" />
        <TextField source="version" />
        <TextField source="name" />
        <TextField source="tier" />
        <DateField source="published_at" showTime />
        <PlanDetails />
      </SimpleShowLayout>
    </Show>
  );
}

function PlanTitle() {
  const plan = useRecordContext<Plan>();
  return <span>{plan ? `Plan ${plan.plan_id} v${String(plan.version)}` : "Plan"}</span>;
}
