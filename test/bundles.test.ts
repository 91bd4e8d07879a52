import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServices, SERVICES } from "../scripts/build-services.js";

/** What OpenTelemetry patches when it is loaded (pg directly or through MikroORM): it must load only after `registerTelemetry`. */
const INSTRUMENTED = ["@grpc/grpc-js", "pg", "@mikro-orm/postgresql"];

const out = mkdtempSync(join(tmpdir(), "tollgate-bundles-"));
beforeAll(() => buildServices(SERVICES, out), 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The bare packages a bundle's file imports, statically or not, and the bundle's own files it imports. */
function importsOf(file: string): { packages: { name: string; dynamic: boolean }[]; files: { name: string; dynamic: boolean }[] } {
  const source = readFileSync(file, "utf8");
  const found = [
    ...[...source.matchAll(/^import\s+(?:[^"']*?\s+from\s+)?["']([^"']+)["']/gm)].map((m) => ({ name: m[1]!, dynamic: false })),
    ...[...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => ({ name: m[1]!, dynamic: true })),
  ];
  return { packages: found.filter((i) => !i.name.startsWith(".")), files: found.filter((i) => i.name.startsWith(".")) };
}

/** Every package reachable from the entry, split by whether only a dynamic import reaches it. */
function reachable(dir: string): { atStart: Set<string>; later: Set<string> } {
  const atStart = new Set<string>();
  const later = new Set<string>();
  const seen = new Map<string, boolean>();
  const visit = (file: string, dynamic: boolean) => {
    const before = seen.get(file);
    if (before !== undefined && (before === false || dynamic)) return;
    seen.set(file, dynamic);
    const { packages, files } = importsOf(join(dir, file));
    for (const p of packages) (dynamic || p.dynamic ? later : atStart).add(p.name.replace(/^(@[^/]+\/[^/]+|[^@/][^/]*).*$/, "$1"));
    for (const f of files) visit(f.name.replace(/^\.\//, ""), dynamic || f.dynamic);
  };
  visit("main.js", false);
  for (const name of atStart) later.delete(name);
  return { atStart, later };
}

describe("the service bundles (scripts/build-services.ts)", () => {
  it.each(SERVICES)("%s loads gRPC and pg only after registerTelemetry", (name) => {
    const { atStart, later } = reachable(join(out, name));
    expect([...atStart].filter((p) => INSTRUMENTED.includes(p)), "loaded before telemetry").toEqual([]);
    expect(atStart.has("@opentelemetry/sdk-node"), "telemetry is in the entry's static graph").toBe(true);
    expect(later.has("@grpc/grpc-js"), "gRPC is loaded, later").toBe(true);
    expect(later.has("pg") || later.has("@mikro-orm/postgresql"), "pg is loaded, later").toBe(true);
  });
});
