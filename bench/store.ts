// The ledger's state store alone, without gRPC or group-commit lanes: what
// PostgreSQL and the store's own code cost per Authorize → Charge pair.
//
//   npm run bench:store [-- --rounds 150 --accounts 64 --batch 16 --sql "ddl to try first"]
//
// Uses DATABASE_URL, else the local server on 5432, else an embedded one.
//
// Opens `--accounts` accounts in a new database, warms up, then runs
// `--rounds` rounds of one batch of `--batch` Authorizes and one batch of
// their final Charges through `PostgresLedgerStateStore.transact` with the
// real state machine. Prints CPU per 1,000 pairs of this process and of its
// PostgreSQL backends, and per pair and table the rows written (inserts,
// updates, of them HOT) and the sequential scans with the rows they read.
// `--sql` runs DDL on the migrated schema first, to measure a schema change
// before writing its migration.
import { parseArgs } from "node:util";
import { connectionPool, openDatabase } from "@tollgate/db";
import type { Command, RollOverCommand } from "../services/ledger/src/domain/commands.js";
import { execute } from "../services/ledger/src/domain/state-machine.js";
import { ledgerEntities } from "../services/ledger/src/data/entities.js";
import { migrations } from "../services/ledger/src/data/migrations/index.js";
import { PostgresLedgerStateStore } from "../services/ledger/src/data/state-store.js";
import { benchDatabase } from "./database.js";
import { cpuSeconds } from "./procstat.js";

const { values: options } = parseArgs({
  options: {
    rounds: { type: "string", default: "150" },
    warmup: { type: "string", default: "20" },
    accounts: { type: "string", default: "64" },
    batch: { type: "string", default: "16" },
    sql: { type: "string", default: "" },
  },
});
const ROUNDS = Number(options.rounds);
const WARMUP = Number(options.warmup);
const ACCOUNTS = Number(options.accounts);
const BATCH = Number(options.batch);

const CREDIT = 1_000_000n;
const T0 = Date.UTC(2026, 10, 1);
const FACTS = { suspended: false, drawdownOrder: ["free_grant", "bonus", "add_on"], thresholdPercents: [50, 90] };
const attribution = { model: "claude-sonnet", tool: "web_search", task_id: "task-1" };

const rollOver = (accountId: string): RollOverCommand => ({
  type: "rollOver", accountId, planId: "plan", planVersion: 1n, cycleStartMs: T0, cycleEndMs: T0 + 30 * 86_400_000,
  units: [{ unit: "credits", allotmentMicros: 1_000_000n * CREDIT, negativeLimitMicros: 0n, lowCreditLimitMicros: 0n, kind: "monthly" }], signupGrants: [],
});
const authorize = (accountId: string, key: string): Command => ({
  type: "authorize", accountId, unit: "credits", bucket: "ai", amountMicros: CREDIT, ttlMs: 60_000, attribution, rateTableVersion: 1n,
  eligibility: { allowed: true, metered: true, reason: "" }, idempotencyKey: key, requestHash: key,
});
const charge = (accountId: string, holdId: string, key: string): Command => ({
  type: "charge", accountId, holdId, unit: "credits", bucket: "ai", amountMicros: CREDIT / 2n, final: true, idempotencyKey: key, requestHash: key,
  attribution, rateTableVersion: 1n, traceparent: "", traceId: "0af7651916cd43dd8448eb211c80319c",
});

const database = await benchDatabase("tollgate_store", console.log);
const orm = await openDatabase({ url: database.url, schema: "ledger", entities: ledgerEntities, migrations, poolMax: 4 });
try {
  const pool = await connectionPool(orm);
  if (options.sql) await pool.query(options.sql);
  const store = new PostgresLedgerStateStore(pool);
  let nowMs = T0 + 1_000;
  const run = (commands: Command[]) =>
    store.transact(commands, (state, ids) => {
      for (const account of state.values()) account.facts = FACTS;
      const batch = execute(state, commands, { nowMs: ++nowMs, ids });
      return { value: batch.outcomes.map((o) => o.result), writes: batch.writes };
    });

  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `store-${i}`);
  await run(accounts.map(rollOver));
  let key = 0;
  const round = async () => {
    const picked = Array.from({ length: BATCH }, (_, i) => accounts[(key + i * 7) % ACCOUNTS]!);
    const authorized = await run(picked.map((a) => authorize(a, `a-${++key}`)));
    const charges = authorized.map((r, i) => {
      if (!r.ok) throw new Error(`authorize failed: ${JSON.stringify(r)}`);
      return charge(picked[i]!, (r.value as { holdId: string }).holdId, `c-${++key}`);
    });
    for (const r of await run(charges)) if (!r.ok) throw new Error(`charge failed: ${JSON.stringify(r)}`);
  };
  for (let i = 0; i < WARMUP; i++) await round();

  const backends = async () =>
    (await pool.query("select pid from pg_stat_activity where datname = current_database()")).rows.map((r: { pid: number }) => r.pid);
  const tableStats = async () =>
    new Map(
      (await pool.query("select relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, seq_scan, seq_tup_read from pg_stat_user_tables where schemaname = 'ledger'")).rows.map(
        (r: { relname: string; n_tup_ins: string; n_tup_upd: string; n_tup_hot_upd: string; seq_scan: string; seq_tup_read: string }) =>
          [r.relname, [Number(r.n_tup_ins), Number(r.n_tup_upd), Number(r.n_tup_hot_upd), Number(r.seq_scan), Number(r.seq_tup_read)]],
      ),
    );
  /** Every pooled backend reports its table counts now, not up to 10 s later. */
  const flushStats = async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => pool.connect()));
    for (const client of clients) {
      await client.query("select pg_stat_force_next_flush()");
      await client.query("select 1");
      client.release();
    }
  };
  await flushStats();
  const statsBefore = await tableStats();
  const pids = await backends();
  const pgBefore = pids.map(cpuSeconds);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) await round();
  const wallMs = performance.now() - started;
  const node = process.cpuUsage(nodeBefore);
  const pgSeconds = pids.reduce((total, pid, i) => total + cpuSeconds(pid) - pgBefore[i]!, 0);
  await flushStats();
  const statsAfter = await tableStats();

  const pairs = ROUNDS * BATCH;
  const perThousand = (ms: number) => Math.round((ms / pairs) * 1000);
  console.log(`${pairs} pairs in ${Math.round(wallMs)} ms (${Math.round(pairs / (wallMs / 1000))} pairs/s), batches of ${BATCH} on ${ACCOUNTS} accounts`);
  console.log(`store process CPU ${perThousand((node.user + node.system) / 1000)} ms / 1k pairs`);
  console.log(`PostgreSQL backends CPU ${perThousand(pgSeconds * 1000)} ms / 1k pairs (${pids.length} backends)`);
  console.log("per pair: table          inserts  updates  (HOT)  seq scans  rows they read");
  for (const [table, after] of [...statsAfter].sort()) {
    const before = statsBefore.get(table) ?? [0, 0, 0, 0, 0];
    const [ins, upd, hot, scans, scanned] = after.map((v, i) => (v - before[i]!) / pairs);
    if (ins || upd || scans) {
      console.log(`  ${table.padEnd(20)} ${ins!.toFixed(2).padStart(6)} ${upd!.toFixed(2).padStart(8)}  (${hot!.toFixed(2)}) ${scans!.toFixed(2).padStart(9)} ${scanned!.toFixed(0).padStart(14)}`);
    }
  }
} finally {
  await orm.close();
  await database.drop();
}
