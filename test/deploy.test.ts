import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Job } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";
import { STOP_TIMEOUT_MS } from "@tollgate/grpc-kit";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { call } from "@tollgate/grpc-kit";
import { ledgerV1, notificationsV1 } from "@tollgate/proto";
import { createTestDatabase, eventually, type TestDatabase } from "@tollgate/testing";
import { manifests, render } from "../scripts/deploy-manifests.js";
import { authorizeRequest, replies, seedStarter } from "./fixtures.js";
import { startPlatform, type Platform } from "./platform.js";
import { scrape, type Sample } from "./prometheus.js";
import { startSmtpSink, startWebhookReceiver } from "./sinks.js";

const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

/** Every kind the manifests use, by apiVersion/kind: each document is re-read through its model and validated. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "v1/Service": Service,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "batch/v1/Job": Job,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
};

function committedObjects(): any[] {
  return Object.keys(manifests).flatMap((file) => parseAllDocuments(read(`deploy/k8s/${file}`)).map((doc) => doc.toJS()));
}

describe("Kubernetes manifests", () => {
  it("are what `npm run deploy:manifests` generates (regenerating leaves no diff)", () => {
    for (const [file, objects] of Object.entries(manifests)) expect(read(`deploy/k8s/${file}`), file).toBe(render(objects));
  });

  it("validate, every object, against the Kubernetes and prometheus-operator schemas", () => {
    const objects = committedObjects();
    expect(objects.length).toBeGreaterThan(15);
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new Model!(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
    // The validation is real: a probe without a port, or a ServiceMonitor endpoint of the wrong shape, is refused.
    const ledger = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "ledger");
    const broken = structuredClone(ledger);
    delete broken.spec.template.spec.containers[0].readinessProbe.httpGet.port;
    expect(() => new Deployment(broken).validate()).toThrow();
    const monitor = objects.find((o) => o.kind === "ServiceMonitor");
    expect(() => new ServiceMonitor({ ...monitor, spec: { ...monitor.spec, endpoints: "metrics" } }).validate()).toThrow();
  });

  it("let gRPC in only from Tollgate's own pods and pods labelled as its clients, metrics from the monitoring namespace, and nothing else", () => {
    const objects = committedObjects();
    const policies = objects.filter((o) => o.kind === "NetworkPolicy");
    const selects = (policy: any, podLabels: Record<string, string>) => Object.entries(policy.spec.podSelector.matchLabels).every(([k, v]) => podLabels[k] === v);
    // Every pod of every Deployment is under the default deny and one policy of its own.
    for (const deployment of objects.filter((o) => o.kind === "Deployment")) {
      const podLabels = deployment.spec.template.metadata.labels;
      const covering = policies.filter((p) => selects(p, podLabels)).map((p) => p.metadata.name);
      expect(covering.sort(), deployment.metadata.name).toEqual([`${deployment.metadata.name}-ingress`, "tollgate-default-deny"].sort());
    }
    expect(policies.find((p) => p.metadata.name === "tollgate-default-deny").spec.ingress).toBeUndefined();
    const grpcPorts: Record<string, number> = { entitlements: 50051, pricing: 50052, ledger: 50053, notifications: 50054 };
    for (const [name, port] of Object.entries(grpcPorts)) {
      const rules = policies.find((p) => p.metadata.name === `${name}-ingress`).spec.ingress;
      const grpc = rules.find((r: any) => r.ports.some((p: any) => p.port === port));
      expect(grpc.from, name).toEqual([
        { podSelector: { matchLabels: { "app.kubernetes.io/part-of": "tollgate" } } },
        { namespaceSelector: {}, podSelector: { matchLabels: { "tollgate.dev/client": "true" } } },
      ]);
      // Every rule names its peers: none lets the whole world in.
      for (const rule of rules) expect(rule.from?.length, name).toBeGreaterThan(0);
    }
  });

  it("run every service with HTTP probes on its metrics port (TLS or not on gRPC), requests, a disruption budget and credentials from Secrets only", () => {
    const objects = committedObjects();
    const of = (kind: string) => objects.filter((o) => o.kind === kind);
    const deployments = of("Deployment");
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(["entitlements", "gateway", "ledger", "notifications", "pricing"]);
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const [container] = deployment.spec.template.spec.containers;
      expect(container.resources.requests, name).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(container.ports.map((p: { name: string }) => p.name), name).toContain("metrics");
      expect(container.readinessProbe.httpGet, name).toEqual({ path: "/readyz", port: "metrics" });
      expect(container.livenessProbe.httpGet, name).toEqual({ path: "/healthz", port: "metrics" });
      // Serving on while the pod's removal reaches every balancer, then the process's whole stop, all within the grace period.
      expect(container.lifecycle.preStop.sleep.seconds + STOP_TIMEOUT_MS / 1000, name).toBeLessThan(deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30);
      expect(of("PodDisruptionBudget").find((p) => p.metadata.name === name)?.spec.selector.matchLabels, name).toEqual(deployment.spec.selector.matchLabels);
    }
    // Every credential is a secretKeyRef; no Secret (and so no secret value) is committed.
    const everyEnv = [...deployments, ...of("Job")].flatMap((o) => o.spec.template.spec.containers.flatMap((c: any) => c.env));
    for (const env of everyEnv.filter((e) => /DATABASE_URL|AUTH_ISSUERS|AUTH_TOKEN|GATEWAY_SECRET|GATEWAY_USERS|SMTP_URL/.test(e.name))) {
      expect(env.value, env.name).toBeUndefined();
      expect(env.valueFrom.secretKeyRef.name, env.name).toBe("tollgate-credentials");
    }
    expect(of("Secret")).toEqual([]);
    expect(of("HorizontalPodAutoscaler").map((h) => h.spec.scaleTargetRef)).toEqual([{ apiVersion: "apps/v1", kind: "Deployment", name: "ledger" }]);
    expect(of("Job")[0].spec.template.spec.containers[0].args.join(" ")).toContain("scripts/migrate.ts");
    // The ServiceMonitor selects the four gRPC services' and the gateway's Services through their `metrics` port.
    const [monitor] = of("ServiceMonitor");
    const selected = of("Service").filter((s) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels[k] === v));
    const scraped = selected.filter((s) => s.spec.ports.some((p: any) => p.name === monitor.spec.endpoints[0].port));
    expect(scraped.map((s) => s.metadata.name).sort()).toEqual(["entitlements", "gateway", "ledger", "notifications", "pricing"]);
  });
});

describe("alerts and dashboard", () => {
  const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  let db: TestDatabase;
  let platform: Platform;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
  let samples: Sample[];

  beforeAll(async () => {
    // A flow that makes every instrument report: decisions allowed and denied, an open hold, a charge crossing thresholds, emails delivered, webhooks failed then dead-lettered.
    hook = await startWebhookReceiver(SECRET, 1_000_000);
    smtp = await startSmtpSink();
    db = await createTestDatabase();
    platform = await startPlatform(db.url, { smtpUrl: smtp.url, retryBaseMs: 20, maxAttempts: 2 });
    await seedStarter(platform, "acme");
    const { ledger, notifications } = platform.clients;
    await call(notifications, notifications.setPreferences, {
      updateFields: [],
      preferences: notificationsV1.Preferences.fromPartial({ accountId: "acme", webhooks: [{ url: hook.url, secret: SECRET }] }),
    });
    const hold = await call(ledger, ledger.authorize, authorizeRequest("acme", "allowed", 2));
    await call(ledger, ledger.authorize, authorizeRequest("acme", "denied", 100));
    await call(ledger, ledger.authorize, authorizeRequest("acme", "left-open", 1)); // the open-holds gauges report units with open holds
    await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "acme", holdId: hold.holdId, usage: replies("gpt-4o", 12), final: true, idempotencyKey: "charge" }));
    samples = await eventually(async () => {
      const all = (await Promise.all([platform.entitlements, platform.pricing, platform.ledger, platform.notifications].map((s) => scrape(s.metrics.url)))).flat();
      const reported = ["tollgate_notifications_dead_letters_total", "tollgate_notifications_deliveries_total"];
      return reported.every((name) => all.some((s) => s.name === name)) ? all : undefined;
    }, 10_000, "a delivery and a dead letter");
  });

  afterAll(async () => {
    await platform?.stop();
    await hook?.stop();
    await smtp?.stop();
    await db?.drop();
  });

  /** Every identifier of a PromQL expression that names a metric or label: each must be one the services really export. */
  function checkAgainstScrape(expr: string, where: string) {
    const metrics = new Set(samples.map((s) => s.name));
    const labels = new Set(samples.flatMap((s) => Object.keys(s.labels)));
    const selectors = [...expr.matchAll(/\b([a-z_][a-z0-9_]*)\s*[{[]/g)].map((m) => m[1]!);
    for (const name of selectors) expect(metrics.has(name), `${where}: metric ${name}`).toBe(true);
    const identifiers = [...expr.matchAll(/\b((?:tollgate|rpc|db|v8js|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
    for (const name of identifiers) expect(metrics.has(name) || labels.has(name), `${where}: ${name}`).toBe(true);
    expect(identifiers.length, where).toBeGreaterThan(0);
  }

  it("alert rules pass `promtool check rules` and use only metrics and labels the services export", () => {
    const hasPromtool = spawnSync("promtool", ["--version"]).status === 0;
    if (hasPromtool) expect(execFileSync("promtool", ["check", "rules", "deploy/prometheus/alerts.yaml"], { cwd: root, encoding: "utf8" })).toContain("SUCCESS: 6 rules found");
    else console.warn("promtool not installed (Debian package `prometheus`): alert rules checked against the scrape only");
    const rules = parse(read("deploy/prometheus/alerts.yaml")).groups.flatMap((g: any) => g.rules);
    expect(rules.map((r: any) => r.alert)).toEqual(["TollgateDenialSpike", "TollgateOutboxLag", "TollgateWatchStreamLag", "TollgateDeadLetters", "TollgateRpcLatencyP99", "TollgateReconciliationMismatch"]);
    for (const rule of rules) checkAgainstScrape(rule.expr, rule.alert);
  });

  it("the Grafana dashboard's panels query only metrics and labels the services export", () => {
    const dashboard = JSON.parse(read("deploy/grafana/tollgate.json"));
    expect(dashboard.uid).toBe("tollgate");
    const targets = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => ({ panel: p.title, expr: t.expr })));
    expect(targets.length).toBeGreaterThanOrEqual(dashboard.panels.length);
    for (const { panel, expr } of targets) checkAgainstScrape(expr, panel);
  });
});
