import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, cpSync, globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const script = join(root, "scripts/check-migrations.mjs");
const ledger = "services/ledger/src/data/migrations";
/** Every folder of migrations, found by its manifest. */
const folders = globSync("{services,packages}/*/src/**/migrations.lock.json", { cwd: root }).map((lock) => dirname(lock));

const check = (dir: string, ...args: string[]) => {
  const run = spawnSync(process.execPath, [script, "--root", dir, ...args], { encoding: "utf8" });
  return { code: run.status, out: run.stdout, err: run.stderr };
};

it("passes on the tree: every registered migration is recorded and unchanged", () => {
  const result = check(root);
  expect(result.err).toBe("");
  expect(result.code).toBe(0);
  expect(folders).toEqual(expect.arrayContaining([ledger, "packages/db/src/call-audit", "services/notifications/src/data/migrations"]));
  expect(result.out).toContain(`${folders.length} folders of migrations`);
});

// Each check is a Node process of its own: slow on a loaded machine.
describe("on a copy of the migrations", { timeout: 120_000 }, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tollgate-migrations-"));
    for (const folder of folders) {
      cpSync(join(root, folder), join(dir, folder), { recursive: true });
      // And what a migration imports from beside its folder (the call audit's index helper).
      const lock = JSON.parse(readFileSync(join(root, folder, "migrations.lock.json"), "utf8")) as { migrations: { files: Record<string, string> }[] };
      for (const file of lock.migrations.flatMap((m) => Object.keys(m.files)).filter((f) => f.startsWith("../"))) {
        cpSync(join(root, folder, file), join(dir, folder, file));
      }
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("passes while nothing changed", () => {
    expect(check(dir)).toMatchObject({ code: 0, err: "" });
  });

  it("fails naming a landed migration's file when it is edited", () => {
    appendFileSync(join(dir, ledger, "Migration20261123060000_work_labels.ts"), "\n// edited\n");
    const result = check(dir);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${ledger}/Migration20261123060000_work_labels.ts changed since migration Migration20261123060000_work_labels landed`);
  });

  it("fails naming a file a landed migration imports when that file is edited", () => {
    const imported = join(dir, ledger, "ledger-functions.sql.ts");
    writeFileSync(imported, readFileSync(imported, "utf8").replace("create function", "create  function"));
    const result = check(dir);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${ledger}/ledger-functions.sql.ts changed since migration Migration20261123000000_initial landed`);
    expect(result.err.trim().split("\n")).toHaveLength(1);
  });

  it("fails on a registered migration the manifest does not record; --update appends it and leaves the recorded ones as they were", () => {
    const lockPath = join(dir, "services/pricing/src/data/migrations/migrations.lock.json");
    const before = JSON.parse(readFileSync(lockPath, "utf8"));
    const folder = join(dir, "services/pricing/src/data/migrations");
    writeFileSync(join(folder, "later.sql.ts"), `export const LATER = "create table pricing.later (id int)";\n`);
    writeFileSync(
      join(folder, "Migration20991231000000_later.ts"),
      `import { Migration } from "@tollgate/db";\nimport { LATER } from "./later.sql.js";\n\nexport class Migration20991231000000_later extends Migration {\n  override up(): void {\n    this.addSql(LATER);\n  }\n}\n`,
    );
    const index = join(folder, "index.ts");
    writeFileSync(
      index,
      `import { Migration20991231000000_later } from "./Migration20991231000000_later.js";\n` +
        readFileSync(index, "utf8").replace(/\];\s*$/, "  Migration20991231000000_later,\n];\n"),
    );

    const missing = check(dir);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("services/pricing/src/data/migrations/index.ts registers Migration20991231000000_later, which services/pricing/src/data/migrations/migrations.lock.json does not record");

    const updated = check(dir, "--update");
    expect(updated.code).toBe(0);
    expect(updated.out).toContain("recorded services/pricing/src/data/migrations/Migration20991231000000_later");
    const after = JSON.parse(readFileSync(lockPath, "utf8"));
    expect(after.migrations.slice(0, -1)).toEqual(before.migrations);
    expect(Object.keys(after.migrations.at(-1).files)).toEqual(["Migration20991231000000_later.ts", "later.sql.ts"]);
    expect(check(dir).code).toBe(0);

    // The new one is landed now: editing what it imports fails too.
    appendFileSync(join(folder, "later.sql.ts"), "// edited\n");
    expect(check(dir).err).toContain("services/pricing/src/data/migrations/later.sql.ts changed since migration Migration20991231000000_later landed");
  });

  it("--update does not rewrite a recorded migration that changed", () => {
    const lockPath = join(dir, ledger, "migrations.lock.json");
    const before = readFileSync(lockPath, "utf8");
    appendFileSync(join(dir, ledger, "metered-time.sql.ts"), "// edited\n");
    const result = check(dir, "--update");
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${ledger}/metered-time.sql.ts changed since migration Migration20261123030000_metered_time landed`);
    expect(readFileSync(lockPath, "utf8")).toBe(before);
  });

  it("--against a commit fails when a manifest's recorded entry was rewritten along with its migration", () => {
    const git = (...args: string[]) => spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dir, encoding: "utf8" });
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "landed");
    expect(check(dir, "--against", "HEAD")).toMatchObject({ code: 0, err: "" });
    // The edit and a hand-made hash for it: the manifest alone is satisfied, the landed one is not.
    const file = join(dir, ledger, "Migration20261130600000_search.ts");
    appendFileSync(file, "// edited\n");
    const lockPath = join(dir, ledger, "migrations.lock.json");
    const lock = JSON.parse(readFileSync(lockPath, "utf8"));
    const entry = lock.migrations.find((m: { name: string }) => m.name === "Migration20261130600000_search");
    entry.files["Migration20261130600000_search.ts"] = createHash("sha256").update(readFileSync(file)).digest("hex");
    writeFileSync(lockPath, JSON.stringify(lock, null, 2));
    expect(check(dir).code).toBe(0);
    const result = check(dir, "--against", "HEAD");
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${ledger}/migrations.lock.json changed the entry of Migration20261130600000_search recorded at HEAD`);
  });

  it("fails when a landed migration is no longer registered", () => {
    const index = join(dir, ledger, "index.ts");
    writeFileSync(index, readFileSync(index, "utf8").replace(/^.*Migration20261130600000_search.*\n/gm, ""));
    const result = check(dir);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${ledger}/index.ts no longer registers Migration20261130600000_search`);
  });
});
