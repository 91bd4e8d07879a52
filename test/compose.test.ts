import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = new URL("..", import.meta.url).pathname;
const compose = parse(readFileSync(`${root}docker-compose.yml`, "utf8"), { merge: true, maxAliasCount: 1000 }) as {
  services: Record<string, { environment?: Record<string, string>; ports?: string[]; build?: { dockerfile: string; args?: { SERVICE?: string } }; depends_on?: unknown; volumes?: string[] }>;
};
const services = compose.services;
const grpcServices = { entitlements: 50051, pricing: 50052, ledger: 50053, notifications: 50054 } as const;

describe("docker-compose.yml", () => {
  it("names the database, every service, the collector and Jaeger", () => {
    expect(Object.keys(services).sort()).toEqual(["entitlements", "gateway", "jaeger", "ledger", "notifications", "otel-collector", "postgres", "pricing"]);
  });

  it.each(Object.entries(grpcServices))("runs %s from its own main on its default port", (name, port) => {
    const service = services[name]!;
    expect(service.build?.args?.SERVICE).toBe(name);
    expect(existsSync(`${root}services/${name}/src/main.ts`)).toBe(true);
    expect(existsSync(`${root}${service.build!.dockerfile}`)).toBe(true);
    expect(service.ports).toContain(`${port}:${port}`);
    expect(service.environment?.[`${name.toUpperCase()}_PORT`]).toBe(String(port));
    const mainSource = readFileSync(`${root}services/${name}/src/main.ts`, "utf8");
    expect(mainSource).toContain(`${name.toUpperCase()}_PORT: env.port(${port})`);
  });

  it("points every address and endpoint at a service and port that exist", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (key.endsWith("_ADDRESS")) {
          const [host, port] = value.split(":");
          expect(grpcServices[host as keyof typeof grpcServices], `${name}.${key}`).toBe(Number(port));
        }
        // Compose substitutes ${VAR} (the password) before the service sees the URL.
        if (key === "DATABASE_URL") expect(new URL(value.replace(/\$\{[^}]+\}/g, "secret")).hostname).toBe("postgres");
        if (key === "OTEL_EXPORTER_OTLP_ENDPOINT") {
          const url = new URL(value);
          expect(services[url.hostname]?.ports, `${name}.${key}`).toContain(`${url.port}:${url.port}`);
        }
      }
    }
  });

  it("runs the console gateway on 8080 from its main", () => {
    const gateway = services.gateway!;
    expect(gateway.build?.args?.SERVICE).toBe("gateway");
    expect(gateway.ports).toContain("8080:8080");
    expect(readFileSync(`${root}services/gateway/src/main.ts`, "utf8")).toContain("GATEWAY_PORT: env.port(8080)");
    // No fixed secret: compose requires it from the environment (.env, written by npm run compose:env).
    expect(gateway.environment?.GATEWAY_SECRET).toMatch(/^\$\{GATEWAY_SECRET:\?.+\}$/);
    expect(gateway.environment?.GATEWAY_USERS).toMatch(/^\$\{GATEWAY_USERS:\?.+\}$/);
  });

  it("has PostgreSQL's password from the environment, and publishes it on loopback only", () => {
    const postgres = services.postgres!;
    expect(postgres.environment?.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?.+\}$/);
    expect(postgres.ports).toEqual(["127.0.0.1:5432:5432"]);
    expect(services.ledger!.environment?.DATABASE_URL).toContain("${POSTGRES_PASSWORD:?");
  });

  it("runs every gRPC service and the gateway with authentication on and no fixed credential", () => {
    for (const name of [...Object.keys(grpcServices), "gateway"]) {
      const environment = services[name]!.environment!;
      expect(environment.AUTH_DISABLED, name).toBeUndefined();
      expect(environment.AUTH_TOKEN, name).toMatch(/^\$\{TOLLGATE_\w+_TOKEN:\?.+\}$/);
      if (name !== "gateway") expect(environment.AUTH_ISSUERS, name).toMatch(/^\$\{TOLLGATE_AUTH_ISSUERS:\?.+\}$/);
    }
  });

  it("mounts a collector config that exports traces to Jaeger", () => {
    const mount = services["otel-collector"]!.volumes![0]!.split(":")[0]!;
    const config = parse(readFileSync(`${root}${mount.replace(/^\.\//, "")}`, "utf8")) as {
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    };
    expect(config.service.pipelines.traces.receivers).toEqual(["otlp"]);
    const exporter = config.exporters[config.service.pipelines.traces.exporters[0]!]!;
    expect(exporter.endpoint.split(":")[0]).toBe("jaeger");
  });
});
