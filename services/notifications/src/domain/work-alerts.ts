/**
 * What the alerts of work (a deployment going live or away, work stopped at
 * its negative limit) say for each kind of work (seed 001): guardrail and
 * custom-script emails differ, a deployment's email carries its endpoint,
 * and every alert names its kind. Work of no kind keeps the plain wording.
 */
export interface WorkAlert {
  /** The webhook/email type: `<kind>.deployed`, `<kind>.stopped`… (`deployment.*`, `run.*` for work of no kind). */
  type: string;
  subject: string;
  text: string;
}

const NAMES: Record<string, string> = {
  model_reply: "Model reply",
  tool_run: "Tool run",
  guardrail: "Guardrail",
  custom_script: "Custom script",
  model_hosting: "Model deployment",
  fine_tuning: "Fine-tuning job",
  agent_run: "Agent run",
};

/** The kind in words, capitalised ("Custom script"), or empty for none. */
export function kindName(workKind: string): string {
  return workKind ? (NAMES[workKind] ?? workKind.replace(/_/g, " ")) : "";
}

const ADD_CREDITS = "To add credits, contact Platform Support.";

/** A deployment went live or away. */
export function deploymentAlert(e: { workKind: string; deploymentId: string; state: string; endpoint: string; replicas: number }): WorkAlert {
  const deployed = e.state === "deployed";
  const what = e.workKind ? `${kindName(e.workKind)} ${e.deploymentId}` : `Deployment ${e.deploymentId}`;
  const type = `${e.workKind || "deployment"}.${deployed ? "deployed" : "undeployed"}`;
  if (!deployed) {
    return { type, subject: `${what} was undeployed`, text: `${what} was undeployed.${e.endpoint ? ` Its endpoint ${e.endpoint} no longer answers.` : ""}` };
  }
  const endpoint = e.endpoint ? `\n\nEndpoint: ${e.endpoint}` : "";
  switch (e.workKind) {
    case "custom_script":
      // Script deployment emails include the API endpoint's access details.
      return {
        type, subject: `${what} is deployed`,
        text: `${what} is deployed on ${e.replicas} replica(s) and billed per deployment on its hardware profile.${endpoint ? `${endpoint}\nCall it with your workspace API key in the Authorization header (Bearer token).` : ""}`,
      };
    case "guardrail":
      return { type, subject: `${what} is deployed`, text: `${what} is deployed on ${e.replicas} replica(s). Its hardware time is deducted from your model credits.${endpoint}` };
    case "model_hosting":
      return { type, subject: `${what} is live`, text: `${what} is running on ${e.replicas} GPU replica(s); each replica consumes hosting credits.${endpoint}` };
    default:
      return { type, subject: `${what} is live`, text: `${what} is running with ${e.replicas} replica(s).${endpoint}` };
  }
}

/** Work stopped at its negative limit. */
export function stoppedAlert(e: { workKind: string; runId: string; deploymentId: string; message: string; budgetId?: string | undefined }): WorkAlert {
  const id = e.deploymentId || e.runId;
  const what = e.workKind ? `${kindName(e.workKind)} ${id}` : e.deploymentId ? `Deployment ${id}` : `Run ${id}`;
  const type = `${e.workKind || (e.deploymentId ? "deployment" : "run")}.stopped`;
  // A hard budget stopped it, not the balance: the account may have credits left, and the budget is what to raise.
  if (e.budgetId) {
    return {
      type, subject: `${what} was stopped: its budget ${e.budgetId} is used up`,
      text: `${what} was stopped: ${e.message}

The hard budget ${e.budgetId} has nothing left of its limit; the account's credits were not what ran out. Support can raise or remove the budget.`,
    };
  }
  switch (e.workKind) {
    case "guardrail":
      return {
        type, subject: `${what} was stopped: negative credit limit reached`,
        text: `${what} was stopped: ${e.message}\n\nThe guardrail ran on past the low-credit limit into negative credits until the guardrail negative limit; negative credits are adjusted in the next billing cycle. New guardrail deployments stay disabled until credits are added. ${ADD_CREDITS}`,
      };
    case "custom_script":
      return {
        type, subject: `${what} failed: deployment stopped at the negative credit limit`,
        text: `${what} failed and was undeployed: ${e.message}\n\nDeployment actions are disabled until credits are added; scripts can still be imported as drafts. ${ADD_CREDITS}`,
      };
    case "model_hosting":
      return {
        type, subject: `${what} was stopped: hosting credits exhausted`,
        text: `${what} was stopped: ${e.message}\n\nEvery replica of the deployment stopped. ${ADD_CREDITS}`,
      };
    default:
      return { type, subject: `${what} was stopped`, text: `${what} was stopped: ${e.message}` };
  }
}
