import { createHash } from "node:crypto";
import type { Migration } from "@mikro-orm/migrations";
import type { MikroORM } from "@mikro-orm/postgresql";

type MigrationClass = new (...args: any[]) => Migration;

/**
 * The checksum of a migration as the code has it: SHA-256 of the SQL its
 * `up()` produces (what runs, wherever the class is loaded from).
 */
export async function migrationChecksum(orm: MikroORM, migration: MigrationClass): Promise<{ name: string; checksum: string }> {
  const instance = new migration(orm.em.getDriver(), orm.config);
  await instance.up();
  const statements = instance.getQueries().map((query) => (typeof query === "string" ? query : String(query)));
  return { name: instance.name ?? migration.name, checksum: createHash("sha256").update(statements.join("\n;\n")).digest("hex") };
}

/**
 * Next to MikroORM's `<schema>.mikro_orm_migrations` (which MikroORM creates
 * itself), `<schema>.migration_checksums` records the checksum each migration
 * had when it was applied. Before migrating, an applied migration whose code
 * now produces other SQL refuses the start (as Flyway's validate does): the
 * database never received that change, so the schema and the code disagree.
 */
export class MigrationChecksums {
  private readonly table: string;

  constructor(
    private readonly orm: MikroORM,
    private readonly schema: string,
    private readonly migrations: readonly MigrationClass[],
  ) {
    this.table = `"${schema}".migration_checksums`;
  }

  private async execute(query: string, params: unknown[] = []) {
    return (await this.orm.em.getConnection().execute(query, params, "all")) as Record<string, unknown>[];
  }

  private async code(): Promise<Map<string, string>> {
    const sums = await Promise.all(this.migrations.map((m) => migrationChecksum(this.orm, m)));
    return new Map(sums.map((s) => [s.name, s.checksum]));
  }

  private async applied(): Promise<string[]> {
    return (await this.orm.migrator.getExecuted()).map((m) => m.name);
  }

  /** Throws, naming each one, when an applied migration's recorded checksum differs from the code's. */
  async verify(): Promise<void> {
    try {
      await this.execute(
        `create table if not exists ${this.table} (name text primary key, checksum text not null, recorded_at timestamptz not null default now())`,
      );
    } catch (error) {
      // Another instance on the same schema created it meanwhile.
      if (!["23505", "42P07"].includes((error as { code?: string }).code ?? "")) throw error;
    }
    const recorded = new Map((await this.execute(`select name, checksum from ${this.table}`)).map((r) => [r.name as string, r.checksum as string]));
    const code = await this.code();
    const changed = (await this.applied())
      .filter((name) => recorded.has(name) && code.has(name) && recorded.get(name) !== code.get(name))
      .map((name) => `${name} (applied with checksum ${recorded.get(name)!.slice(0, 12)}…, the code now gives ${code.get(name)!.slice(0, 12)}…)`);
    if (changed.length > 0) {
      throw new Error(
        `schema "${this.schema}": ${changed.length === 1 ? "an applied migration differs" : "applied migrations differ"} from the code: ${changed.join("; ")}. ` +
          "A landed migration is never edited: restore it and change the schema in a new migration.",
      );
    }
  }

  /** Records the checksum of every applied migration not recorded yet (those applied now, and those applied before checksums were kept). */
  async record(): Promise<void> {
    const code = await this.code();
    const rows = (await this.applied()).filter((name) => code.has(name)).map((name) => ({ name, checksum: code.get(name)! }));
    if (rows.length === 0) return;
    await this.execute(
      `insert into ${this.table} (name, checksum) select name, checksum from jsonb_to_recordset(?::jsonb) as r(name text, checksum text) on conflict (name) do nothing`,
      [JSON.stringify(rows)],
    );
  }
}
