// Landed migrations never change. Every folder of migrations (a folder holding
// `Migration<14 digits>_<name>.ts` files, registered in its index.ts) carries a
// `migrations.lock.json` recording, for each registered migration, the SHA-256
// of its file and of every local file it imports, transitively. This check
// fails, naming the file, when a recorded file changed or disappeared, when a
// recorded migration is no longer registered, or when a registered migration
// is not recorded yet. `--update` appends the unrecorded ones (it never
// rewrites a recorded entry). `--against REF` also fails when a manifest lost
// or changed an entry it has at git REF (so a migration edited together with
// its recorded hash is caught too). `--root DIR` checks another tree.
//
//   node scripts/check-migrations.mjs [--update] [--against REF] [--root DIR]
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const LOCK_FILE = "migrations.lock.json";
const MIGRATION_FILE = /^Migration\d{14}_\w+\.ts$/;
const SEARCHED = ["services", "packages"];
const SKIPPED = new Set(["node_modules", "dist", "generated", ".turbo"]);
const NOTE =
  "SHA-256 of each landed migration and of every local file it imports. A recorded migration and its imports are never edited: " +
  "change the schema with a new migration. `node scripts/check-migrations.mjs --update` appends new migrations.";

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");
const posix = (path) => path.split(sep).join("/");

/** Folders under `root` holding migration files. */
export function migrationFolders(root) {
  const found = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.isFile() && MIGRATION_FILE.test(e.name))) found.push(dir);
    for (const e of entries) if (e.isDirectory() && !SKIPPED.has(e.name) && !e.name.startsWith(".")) walk(join(dir, e.name));
  };
  for (const top of SEARCHED) walk(join(root, top));
  return found.sort();
}

/** The relative module specifiers a TypeScript file imports or re-exports (static and dynamic). */
function localImports(source) {
  const specifiers = [];
  const patterns = [/\b(?:import|export)\s[^'"]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g, /\bimport\s*["'](\.{1,2}\/[^"']+)["']/g, /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) specifiers.push(m[1]);
  return specifiers;
}

/** The file a relative specifier names (`./x.js` is `./x.ts` in TypeScript sources). */
function resolveImport(fromFile, specifier) {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base.replace(/\.js$/, ".ts"), base.replace(/\.mjs$/, ".mts"), base, `${base}.ts`, join(base, "index.ts")];
  const file = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (!file) throw new Error(`${fromFile} imports ${specifier}, which does not resolve to a file`);
  return file;
}

/** A migration file and every local file it imports, transitively (absolute paths, the migration first). */
export function importClosure(file) {
  const seen = new Set();
  const visit = (f) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const specifier of localImports(readFileSync(f, "utf8"))) visit(resolveImport(f, specifier));
  };
  visit(file);
  return [...seen];
}

/** The migrations a folder's index.ts registers, in order: name and file. */
export function registeredMigrations(folder) {
  const index = join(folder, "index.ts");
  if (!existsSync(index)) throw new Error(`${index} is missing: migrations are registered there`);
  return localImports(readFileSync(index, "utf8"))
    .map((specifier) => resolveImport(index, specifier))
    .filter((file) => MIGRATION_FILE.test(file.split(sep).pop()))
    .map((file) => ({ name: file.split(sep).pop().replace(/\.ts$/, ""), file }));
}

function fingerprint(folder, file) {
  return Object.fromEntries(importClosure(file).map((f) => [posix(relative(folder, f)), sha256(f)]));
}

/**
 * Checks (and with `update`, extends) every folder's manifest under `root`.
 * Returns the problems found (empty when the tree is fine) and what was appended.
 */
export function checkMigrations(root, { update = false, against = undefined } = {}) {
  const problems = [];
  const appended = [];
  for (const folder of migrationFolders(root)) {
    const where = posix(relative(root, folder));
    const lockPath = join(folder, LOCK_FILE);
    const lock = existsSync(lockPath) ? JSON.parse(readFileSync(lockPath, "utf8")) : { note: NOTE, migrations: [] };
    if (against) {
      let earlier;
      try {
        earlier = JSON.parse(execFileSync("git", ["show", `${against}:${where}/${LOCK_FILE}`], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
      } catch {
        earlier = { migrations: [] }; // no manifest there yet
      }
      for (const entry of earlier.migrations) {
        const now = lock.migrations.find((m) => m.name === entry.name);
        if (!now || JSON.stringify(now.files) !== JSON.stringify(entry.files)) {
          problems.push(`${where}/${LOCK_FILE} ${now ? "changed" : "dropped"} the entry of ${entry.name} recorded at ${against}: a landed migration, its imports and their hashes are never edited`);
        }
      }
    }
    let registered;
    try {
      registered = registeredMigrations(folder);
    } catch (error) {
      problems.push(error.message);
      continue;
    }
    const registeredNames = new Set(registered.map((m) => m.name));
    const recordedNames = new Set(lock.migrations.map((m) => m.name));

    for (const recorded of lock.migrations) {
      if (!registeredNames.has(recorded.name)) {
        problems.push(`${where}/index.ts no longer registers ${recorded.name}, which ${where}/${LOCK_FILE} records as landed: a landed migration is never removed`);
      }
      for (const [file, expected] of Object.entries(recorded.files)) {
        const path = join(folder, file);
        const shown = posix(relative(root, path));
        if (!existsSync(path)) problems.push(`${shown} is gone, but landed migration ${recorded.name} imports it: restore it`);
        else if (sha256(path) !== expected) {
          problems.push(
            `${shown} changed since migration ${recorded.name} landed (SHA-256 ${expected.slice(0, 12)}… recorded in ${where}/${LOCK_FILE}): ` +
              "a landed migration and the files it imports are never edited; restore it and change the schema in a new migration",
          );
        }
      }
    }

    const fresh = registered.filter((m) => !recordedNames.has(m.name));
    if (fresh.length === 0) continue;
    if (!update) {
      for (const m of fresh) problems.push(`${where}/index.ts registers ${m.name}, which ${where}/${LOCK_FILE} does not record: run \`node scripts/check-migrations.mjs --update\``);
      continue;
    }
    for (const m of fresh) {
      lock.migrations.push({ name: m.name, files: fingerprint(folder, m.file) });
      appended.push(`${where}/${m.name}`);
    }
    writeFileSync(lockPath, `${JSON.stringify({ note: lock.note ?? NOTE, migrations: lock.migrations }, null, 2)}\n`);
  }
  return { problems, appended };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const rootAt = args.indexOf("--root");
  const root = resolve(rootAt >= 0 ? args[rootAt + 1] : join(dirname(fileURLToPath(import.meta.url)), ".."));
  const againstAt = args.indexOf("--against");
  const { problems, appended } = checkMigrations(root, { update: args.includes("--update"), against: againstAt >= 0 ? args[againstAt + 1] : undefined });
  for (const line of appended) console.log(`recorded ${line}`);
  if (problems.length > 0) {
    for (const line of problems) console.error(`check-migrations: ${line}`);
    process.exit(1);
  }
  console.log(`check-migrations: ${migrationFolders(root).length} folders of migrations, every landed one unchanged`);
}
