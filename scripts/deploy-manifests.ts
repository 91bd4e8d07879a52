// Generates deploy/k8s/*.yaml from typed kubernetes-models objects: every
// object is validated against the Kubernetes (and prometheus-operator)
// OpenAPI schemas before it is written. `npm run deploy:manifests`.
import { writeFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";
import type { IEnvVar, IContainer } from "kubernetes-models/v1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { stringify } from "yaml";

const IMAGE = "tollgate:latest";
const part = { "app.kubernetes.io/part-of": "tollgate" };
/** Every credential comes from this Secret (made by the operator, never committed). */
const SECRET = "tollgate-credentials";

const secretEnv = (name: string, key: string, optional = false): IEnvVar => ({ name, valueFrom: { secretKeyRef: { name: SECRET, key, optional } } });
const databaseUrl = secretEnv("DATABASE_URL", "database-url");

interface GrpcService {
  name: "entitlements" | "pricing" | "ledger" | "notifications";
  grpcPort: number;
  metricsPort: number;
  replicas: number;
  env: IEnvVar[];
  resources: { cpu: string; memory: string };
}

const grpcServices: GrpcService[] = [
  { name: "entitlements", grpcPort: 50051, metricsPort: 9461, replicas: 2, env: [], resources: { cpu: "100m", memory: "256Mi" } },
  { name: "pricing", grpcPort: 50052, metricsPort: 9462, replicas: 2, env: [], resources: { cpu: "100m", memory: "256Mi" } },
  {
    name: "ledger", grpcPort: 50053, metricsPort: 9463, replicas: 2, resources: { cpu: "500m", memory: "384Mi" },
    env: [{ name: "ENTITLEMENTS_ADDRESS", value: "entitlements:50051" }, { name: "PRICING_ADDRESS", value: "pricing:50052" }],
  },
  {
    name: "notifications", grpcPort: 50054, metricsPort: 9464, replicas: 2, resources: { cpu: "100m", memory: "256Mi" },
    env: [{ name: "LEDGER_ADDRESS", value: "ledger:50053" }, { name: "ENTITLEMENTS_ADDRESS", value: "entitlements:50051" }, secretEnv("SMTP_URL", "smtp-url", true)],
  },
];

const labels = (name: string) => ({ "app.kubernetes.io/name": name, ...part });
const meta = (name: string) => ({ name, labels: labels(name) });

function container(name: string, env: IEnvVar[], resources: { cpu: string; memory: string }, extra: Partial<IContainer>): IContainer {
  return {
    name,
    image: IMAGE,
    env: [
      databaseUrl,
      { name: "GRPC_HOST", value: "0.0.0.0" },
      { name: "OTEL_SERVICE_NAME", value: `tollgate-${name}` },
      secretEnv("AUTH_ISSUERS", "auth-issuers"),
      ...env,
    ],
    resources: { requests: resources, limits: { memory: resources.memory } },
    securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
    // tsx compiles into the temporary directory: the only writable place.
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
    ...extra,
  };
}

function deployment(name: string, replicas: number, main: IContainer) {
  return new Deployment({
    metadata: meta(name),
    spec: {
      replicas,
      selector: { matchLabels: labels(name) },
      template: {
        metadata: { labels: labels(name) },
        spec: { containers: [main], volumes: [tmpVolume], terminationGracePeriodSeconds: GRACE_SECONDS },
      },
    },
  });
}

const tmpVolume = { name: "tmp", emptyDir: {} };

const pdb = (name: string) =>
  new PodDisruptionBudget({ metadata: meta(name), spec: { minAvailable: 1, selector: { matchLabels: labels(name) } } });

/** Seconds a deleted pod keeps serving before it is sent SIGTERM (see `probes`). */
const PRE_STOP_SECONDS = 10;
/** A pod's whole grace period: the preStop sleep counts in it, then the process's own stop (25 s at most, STOP_TIMEOUT_MS) and time to exit. */
const GRACE_SECONDS = 45;

/**
 * Every process answers `/readyz` (503 once it starts draining) and `/healthz`
 * in plain HTTP on its metrics port, so the probes work whether or not gRPC
 * is served over TLS (Kubernetes' own `grpc` probe speaks no TLS). A deleted
 * pod is taken out of its Service's endpoints while it is sent SIGTERM, and
 * kube-proxy, ingresses and callers' balancers learn of it seconds later: the
 * preStop sleep keeps it serving until they have (Kubernetes 1.30 or later),
 * then it stops (a gRPC drain of 10 s at most, the whole stop 25 s at most), within a 45 s grace period.
 */
const probes: Pick<IContainer, "readinessProbe" | "livenessProbe" | "lifecycle"> = {
  readinessProbe: { httpGet: { path: "/readyz", port: "metrics" }, periodSeconds: 5, failureThreshold: 2 },
  livenessProbe: { httpGet: { path: "/healthz", port: "metrics" }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
  lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
};

function grpcObjects(s: GrpcService) {
  const ownToken = s.name === "ledger" || s.name === "notifications" ? [secretEnv("AUTH_TOKEN", `${s.name}-token`)] : [];
  const main = container(s.name, [
    { name: `${s.name.toUpperCase()}_PORT`, value: String(s.grpcPort) },
    { name: `${s.name.toUpperCase()}_METRICS_PORT`, value: String(s.metricsPort) },
    ...ownToken,
    ...s.env,
  ], s.resources, {
    args: ["sh", "-c", `exec node services/${s.name}/dist/main.js`],
    ports: [{ name: "grpc", containerPort: s.grpcPort }, { name: "metrics", containerPort: s.metricsPort }],
    ...probes,
  });
  return [
    deployment(s.name, s.replicas, main),
    new Service({
      metadata: meta(s.name),
      spec: { selector: labels(s.name), ports: [{ name: "grpc", port: s.grpcPort, targetPort: "grpc" }, { name: "metrics", port: s.metricsPort, targetPort: "metrics" }] },
    }),
    pdb(s.name),
  ];
}

function gatewayObjects() {
  const main = container("gateway", [
    { name: "GATEWAY_HOST", value: "0.0.0.0" },
    { name: "GATEWAY_PORT", value: "8080" },
    { name: "GATEWAY_METRICS_PORT", value: "9465" },
    { name: "LEDGER_ADDRESS", value: "ledger:50053" },
    { name: "ENTITLEMENTS_ADDRESS", value: "entitlements:50051" },
    { name: "PRICING_ADDRESS", value: "pricing:50052" },
    { name: "NOTIFICATIONS_ADDRESS", value: "notifications:50054" },
    { name: "GATEWAY_STATIC_DIR", value: "admin/dist" },
    secretEnv("AUTH_TOKEN", "gateway-token"),
    secretEnv("GATEWAY_SECRET", "gateway-secret"),
    secretEnv("GATEWAY_USERS", "gateway-users"),
  ], { cpu: "100m", memory: "256Mi" }, {
    args: ["sh", "-c", "exec node services/gateway/dist/main.js"],
    ports: [{ name: "http", containerPort: 8080 }, { name: "metrics", containerPort: 9465 }],
    ...probes,
  });
  return [
    deployment("gateway", 2, main),
    new Service({ metadata: meta("gateway"), spec: { selector: labels("gateway"), ports: [{ name: "http", port: 80, targetPort: "http" }, { name: "metrics", port: 9465, targetPort: "metrics" }] } }),
    pdb("gateway"),
  ];
}

const ledgerAutoscaler = new HorizontalPodAutoscaler({
  metadata: meta("ledger"),
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "ledger" },
    minReplicas: 2,
    maxReplicas: 8,
    metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
  },
});

const migrationJob = new Job({
  metadata: meta("tollgate-migrate"),
  spec: {
    backoffLimit: 3,
    template: {
      metadata: { labels: labels("tollgate-migrate") },
      spec: {
        restartPolicy: "OnFailure",
        volumes: [tmpVolume],
        containers: [container("migrate", [], { cpu: "100m", memory: "256Mi" }, { args: ["sh", "-c", "exec node --import tsx scripts/migrate.ts"] })],
      },
    },
  },
});

const serviceMonitor = new ServiceMonitor({
  metadata: meta("tollgate"),
  spec: {
    selector: { matchLabels: part },
    endpoints: [{ port: "metrics", path: "/metrics", interval: "30s" }],
  },
});

/**
 * Who may reach the pods. gRPC carries bearer tokens in plaintext inside the
 * cluster, so its ports take connections only from Tollgate's own pods and
 * from pods labelled `tollgate.dev/client: "true"` (the products calling
 * Authorize and Charge, in any namespace); metrics only from the namespace
 * `monitoring` (Prometheus); the gateway's HTTP port from anywhere (behind
 * the ingress). Everything else to a Tollgate pod is refused.
 */
const CLIENT_LABEL = { "tollgate.dev/client": "true" };
const MONITORING = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } };
const metricsFromMonitoring = (port: number) => ({ from: [MONITORING], ports: [{ protocol: "TCP" as const, port }] });

const networkPolicies = [
  new NetworkPolicy({
    metadata: meta("tollgate-default-deny"),
    spec: { podSelector: { matchLabels: part }, policyTypes: ["Ingress"] },
  }),
  ...grpcServices.map((s) => new NetworkPolicy({
    metadata: meta(`${s.name}-ingress`),
    spec: {
      podSelector: { matchLabels: labels(s.name) },
      policyTypes: ["Ingress"],
      ingress: [
        { from: [{ podSelector: { matchLabels: part } }, { namespaceSelector: {}, podSelector: { matchLabels: CLIENT_LABEL } }], ports: [{ protocol: "TCP" as const, port: s.grpcPort }] },
        metricsFromMonitoring(s.metricsPort),
      ],
    },
  })),
  new NetworkPolicy({
    metadata: meta("gateway-ingress"),
    spec: {
      podSelector: { matchLabels: labels("gateway") },
      policyTypes: ["Ingress"],
      ingress: [{ ports: [{ protocol: "TCP" as const, port: 8080 }] }, metricsFromMonitoring(9465)],
    },
  }),
];

export const manifests: Record<string, { validate(): void; toJSON(): unknown }[]> = {
  "services.yaml": grpcServices.flatMap(grpcObjects),
  "gateway.yaml": gatewayObjects(),
  "ledger-autoscaler.yaml": [ledgerAutoscaler],
  "migration-job.yaml": [migrationJob],
  "service-monitor.yaml": [serviceMonitor],
  "network-policy.yaml": networkPolicies,
};

export const HEADER = "# Generated by `npm run deploy:manifests` (scripts/deploy-manifests.ts); do not edit.\n";

export function render(objects: { validate(): void; toJSON(): unknown }[]): string {
  return HEADER + objects.map((object) => {
    object.validate();
    return stringify(object.toJSON());
  }).join("---\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = fileURLToPath(new URL("../deploy/k8s/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  for (const [file, objects] of Object.entries(manifests)) writeFileSync(dir + file, render(objects));
  console.log(`wrote ${Object.keys(manifests).length} files to deploy/k8s/`);
}
