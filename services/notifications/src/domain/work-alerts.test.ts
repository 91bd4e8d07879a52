import { describe, expect, it } from "vitest";
import { decide, type Recipients } from "./rules.js";
import { PLAN_RULES } from "./rules.fixture.js";

const recipients: Recipients = { emails: ["admin@acme.example"], adminEmails: ["admin@acme.example"], webhooks: [{ url: "https://hooks.acme.example/t", secret: "whsec_x" }], channelsByRule: {} };
const MESSAGE = "You've used all your available credits. Please add more credits to your account to continue.";

const stopped = (workKind: string, deploymentId: string) =>
  decide({ kind: "work_stopped", accountId: "acme", sequence: 3n, runId: "", deploymentId, message: MESSAGE, workKind }, PLAN_RULES, recipients).deliveries;
const deployed = (workKind: string, deploymentId: string, endpoint: string) =>
  decide({ kind: "deployment_changed", accountId: "acme", sequence: 4n, deploymentId, state: "deployed", endpoint, replicas: 1, workKind }, PLAN_RULES, recipients).deliveries;

describe("alerts of work, per kind of work", () => {
  it("gives guardrail and custom-script stops their own emails, each naming its kind", () => {
    const guardrail = stopped("guardrail", "pii-scan")[0]!.payload;
    const script = stopped("custom_script", "etl")[0]!.payload;
    expect(guardrail.subject).toBe("Guardrail pii-scan was stopped: negative credit limit reached");
    expect(guardrail.text).toContain(MESSAGE);
    expect(guardrail.text).toContain("negative credits are adjusted in the next billing cycle");
    expect(script.subject).toBe("Custom script etl failed: deployment stopped at the negative credit limit");
    expect(script.text).toContain("imported as drafts");
    expect(script.text).not.toBe(guardrail.text);
    expect([guardrail.type, script.type]).toEqual(["guardrail.stopped", "custom_script.stopped"]);
    expect([guardrail.data.work_kind, script.data.work_kind]).toEqual(["guardrail", "custom_script"]);
  });

  it("carries a deployment's endpoint, with access details for a custom script", () => {
    const script = deployed("custom_script", "etl", "https://scripts.acme.example/etl")[0]!.payload;
    expect(script.subject).toBe("Custom script etl is deployed");
    expect(script.text).toContain("Endpoint: https://scripts.acme.example/etl");
    expect(script.text).toContain("Authorization header");
    const hosting = deployed("model_hosting", "llama", "https://models.acme.example/llama")[0]!.payload;
    expect(hosting.subject).toBe("Model deployment llama is live");
    expect(hosting.text).toContain("https://models.acme.example/llama");
    expect(hosting.type).toBe("model_hosting.deployed");
  });

  it("says a hard budget stopped the work, not the credits, whatever its kind", () => {
    for (const workKind of ["guardrail", "custom_script", "model_hosting", ""]) {
      const [mail] = decide({ kind: "work_stopped", accountId: "acme", sequence: 5n, runId: "", deploymentId: "pii", message: "This work has used all of its budget.", workKind, budgetId: "credits/agent/bot" }, PLAN_RULES, recipients).deliveries;
      expect(mail!.payload.subject, workKind).toMatch(/was stopped: its budget credits\/agent\/bot is used up$/);
      expect(mail!.payload.text, workKind).not.toMatch(/negative credit|credits exhausted/);
      expect(mail!.payload.data.budget_id).toBe("credits/agent/bot");
    }
  });

  it("keeps the plain wording for work of no kind", () => {
    expect(stopped("", "d-1")[0]!.payload).toMatchObject({ subject: "Deployment d-1 was stopped", type: "deployment.stopped" });
    expect(deployed("", "d-2", "")[0]!.payload).toMatchObject({ subject: "Deployment d-2 is live", type: "deployment.deployed" });
  });
});
