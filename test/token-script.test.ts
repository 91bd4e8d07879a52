import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const script = new URL("../scripts/token.ts", import.meta.url).pathname;
const token = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", script, ...args], { encoding: "utf8" });

describe("npm run token", () => {
  it.each([
    [["--role", "meter", "--bogus"], /^token: Unknown option '--bogus'.*\(options: --role, --account, --ttl, --subject, --help\)$/],
    [["--role", "meter", "--ttl", "31d"], /^token: --ttl must be at most 30d$/],
    [["--role", "meter", "--ttl", "99999999999999d"], /^token: --ttl must be at most 30d$/],
    [["--role", "nobody"], /^token: unknown role 'nobody'/],
  ])("refuses %j in one line, exit code 2, minting nothing", (args, message) => {
    const run = token(...args);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(message);
  });

  it("--help prints its options and mints nothing (it reads no issuer)", () => {
    const run = token("--help");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("--role      meter, support, admin, service");
    expect(run.stdout).toContain("--ttl");
    expect(run.stdout).not.toMatch(/eyJ/);
  });
});
