import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/**
 * B-pg-uniform / B-pg-hot: pgbench, prepared statements, 16 clients, 2
 * threads, one durable single-row UPDATE per transaction on a 10,000-row table
 * (uniform ids, or every update on one row).
 */
export async function pgbenchTps(databaseUrl: string, mode: "uniform" | "hot", seconds: number): Promise<number | null> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`create schema if not exists bench_baseline`);
    await client.query(`create table if not exists bench_baseline.accounts (id integer primary key, balance bigint not null)`);
    await client.query(`insert into bench_baseline.accounts select i, 1000000000 from generate_series(1, 10000) i on conflict do nothing`);
  } finally {
    await client.end();
  }
  const dir = mkdtempSync(join(tmpdir(), "tollgate-pgbench-"));
  const script = join(dir, `${mode}.sql`);
  writeFileSync(
    script,
    mode === "uniform"
      ? "\\set id random(1, 10000)\nUPDATE bench_baseline.accounts SET balance = balance - 1 WHERE id = :id;\n"
      : "UPDATE bench_baseline.accounts SET balance = balance - 1 WHERE id = 1;\n",
  );
  try {
    const { stdout } = await run("pgbench", ["-n", "-M", "prepared", "-c", "16", "-j", "2", "-T", String(seconds), "-f", script, databaseUrl], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const match = /tps = ([\d.]+)/.exec(stdout);
    return match ? Number(match[1]) : null;
  } catch (error) {
    console.warn(`[bench] pgbench failed: ${(error as Error).message.split("\n")[0]}`);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
