/**
 * npm run bench [-- --quick] [--only W-uniform,W-hot] [--replicas 2] [--profile DIR] [--results FILE]
 *
 * Baselines and workloads in one run on this machine, reported as ratios
 * (see BENCHMARK.md in the project's docs and bench/README.md). Starts the
 * services as separate processes on a fresh database, drives them over gRPC
 * from this process, checks the ledger's invariants after every workload and
 * exits non-zero if one fails. The whole bench ends with W-replicas: W-uniform
 * and W-hot again with two ledger and two notifications replicas, beside one.
 * `--only` runs the named workloads without the baselines, the open loop and
 * W-replicas; `--replicas` runs that many ledger and notifications processes;
 * `--profile` writes the services' CPU profiles of each measured workload to
 * a directory, with a summary by category; `--results` names the results file.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import pg from "pg";
import { call, createClient, generateIssuerKey, mintToken } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, pricingV1 } from "@tollgate/proto";
import { parseSamples, value } from "../scripts/prometheus-text.js";
import { buildServices } from "../scripts/build-services.js";
import { spawnServices } from "../scripts/services.js";
import { pgbenchTps } from "./baselines.js";
import { benchDatabase } from "./database.js";
import { checkInvariants, type InvariantReport } from "./invariants.js";
import { meterWork } from "./meter.js";
import { closedLoop, openLoop, round, type GcPauses, type Latencies, type LoopResult } from "./load.js";
import { parseOptions, type Workload } from "./options.js";
import { CpuMeter, cpuSeconds, postgresPids, rssMiB } from "./procstat.js";
import { ServiceProfiler, summarise, summariseAllocations, type AllocationSummary, type ProfileSummary } from "./profile.js";

const options = parseOptions(process.argv.slice(2));
const quick = options.quick;
const SECONDS = quick ? 4 : 15;
const runs = (workload: Workload) => !options.only || options.only.has(workload);
/** The baselines and the open loop run only with the whole bench. */
const baselines = !options.only;
const ACCOUNTS = quick ? 500 : 10_000;
const CONCURRENCY = 32;
const CHANNELS = 4;
const CREDIT = 1_000_000;
const startedAt = performance.now();
const log = (line: string) => console.log(`[bench +${((performance.now() - startedAt) / 1000).toFixed(1)} s] ${line}`);
const root = new URL("..", import.meta.url).pathname;
const resultsFile = resolve(root, options.resultsFile);

// ── database ────────────────────────────────────────────────────────────────
const database = await benchDatabase("tollgate_bench", log);
log(`database ${database.name} on PostgreSQL ${database.version}`);
process.env.BENCH_PG_VERSION = database.version;
const databaseUrl = database.url;
/** The PostgreSQL backends connected to this run's database now. */
const benchBackends = async () => (await database.admin<{ pid: number }>("select pid from pg_stat_activity where datname = $1", [database.name])).map((row) => row.pid);
/** Deadlocks PostgreSQL has detected (and broken by cancelling a transaction) in this run's database so far. */
const benchDeadlocks = async () => Number((await database.admin<{ deadlocks: string }>("select deadlocks from pg_stat_database where datname = $1", [database.name]))[0]?.deadlocks ?? 0);

// ── baselines ───────────────────────────────────────────────────────────────
const PGBENCH_SECONDS = quick ? 3 : SECONDS;
/** Unmeasured load before a server's first measured loop: JIT, connection pools and PL/pgSQL plan caches warm up. */
const WARM_UP_SECONDS = quick ? 1.5 : 3;
if (baselines) log(`B-pg-uniform and B-pg-hot: pgbench, 16 clients, ${PGBENCH_SECONDS} s each`);
const pgUniformTps = baselines ? await pgbenchTps(databaseUrl, "uniform", PGBENCH_SECONDS) : null;
const pgHotTps = baselines ? await pgbenchTps(databaseUrl, "hot", PGBENCH_SECONDS) : null;

// Authentication on, as in production: a key pair for this run, one token for the load generator (sent to the no-op server too).
const benchIssuer = await generateIssuerKey("bench");
const benchToken = (subject: string, roles: ("meter" | "admin" | "service")[]) =>
  mintToken(benchIssuer.privateJwk, { issuer: "tollgate-bench", subject, roles, ttlSeconds: 86_400 });
const credentials = { credentials: await benchToken("bench", ["meter", "admin"]) };
/** CHANNELS channels, spread round-robin over the addresses (ledger replicas). */
const ledgerClients = (addresses: string[]) =>
  Array.from({ length: CHANNELS }, (_, i) => createClient(ledgerV1.LedgerServiceClient, addresses[i % addresses.length]!, credentials));
const usage = (replies: number): pricingV1.Usage => ({ kind: { $case: "modelReply", modelReply: { model: "bench-model", replies: String(replies) } } });
const authorizeReq = (accountId: string, key: string, replies = 1) =>
  ledgerV1.AuthorizeRequest.fromPartial({ accountId, estimate: usage(replies), idempotencyKey: key, ttlMs: "60000" });
const chargeReq = (accountId: string, holdId: string, key: string, final: boolean, replies = 1) =>
  ledgerV1.ChargeRequest.fromPartial({ accountId, holdId, usage: usage(replies), final, idempotencyKey: key });

/** The canned grpc-js server with the ledger's contract, and channels to it. */
async function startNoop() {
  const noop = spawn(process.execPath, ["--import", "tsx", `${root}bench/noop-server.ts`], { stdio: ["ignore", "pipe", "inherit"] });
  const address = await new Promise<string>((resolve) =>
    createInterface({ input: noop.stdout! }).on("line", (line) => line.includes("listening") && resolve(JSON.parse(line).address)),
  );
  const clients = ledgerClients([address]);
  return { clients, stop: () => { clients.forEach((c) => c.close()); noop.kill("SIGTERM"); } };
}

/** Authorize → Charge pairs started at a fixed rate; Authorize latency counts from each pair's intended start. */
function openPairs(clients: ledgerV1.LedgerServiceClient[], rate: number, accountOf: () => string, prefix: string, seconds = SECONDS) {
  return openLoop(rate, seconds, async (index, intended, latencies, loopStart) => {
    const client = clients[index % CHANNELS]!;
    const accountId = accountOf();
    const hold = await call(client, client.authorize, authorizeReq(accountId, `${prefix}-a-${index}`));
    latencies.record("Authorize", performance.now() - intended, intended - loopStart);
    const chargeStarted = performance.now();
    await call(client, client.charge, chargeReq(accountId, hold.holdId, `${prefix}-c-${index}`, true));
    latencies.record("Charge", performance.now() - chargeStarted);
  });
}

/** B-grpc-noop: the same load generator against the canned server, after its warm-up. */
async function noopBaseline(): Promise<LoopResult> {
  log(`B-grpc-noop: the same load generator against a canned grpc-js server, ${SECONDS} s`);
  const noop = await startNoop();
  const noopPair = async (worker: number, iteration: number, latencies: Latencies) => {
    const client = noop.clients[worker % CHANNELS]!;
    const hold = await latencies.time("Authorize", () => call(client, client.authorize, authorizeReq("noop", `n-${worker}-${iteration}`)));
    await latencies.time("Charge", () => call(client, client.charge, chargeReq("noop", hold.holdId, `nc-${worker}-${iteration}`, true)));
  };
  await closedLoop(CONCURRENCY, WARM_UP_SECONDS, noopPair);
  const result = await closedLoop(CONCURRENCY, SECONDS, noopPair);
  noop.stop();
  return result;
}
const noopResult = baselines ? await noopBaseline() : undefined;

// ── the platform ────────────────────────────────────────────────────────────
log(`starting the services${options.replicas > 1 ? `, ${options.replicas} ledger and ${options.replicas} notifications replicas` : ""}`);
const profiler = options.profileDir ? new ServiceProfiler(options.profileDir) : undefined;
// Bundles as npm start and the image run them; from source under --profile, so the profile names our files.
if (!profiler) await buildServices(["entitlements", "pricing", "ledger", "notifications"]);
const services = await spawnServices({
  fromSource: profiler !== undefined,
  databaseUrl,
  ports: { entitlements: 0, pricing: 0, ledger: 0, notifications: 0 },
  replicas: options.replicas,
  env: {
    DB_POOL_MAX: "8",
    HOLD_SWEEP_INTERVAL_MS: "1000",
    NODE_OPTIONS: [process.env.BENCH_SERVICE_NODE_OPTIONS ?? "", profiler ? ServiceProfiler.nodeOptions : ""].join(" ").trim(),
    AUTH_ISSUERS: JSON.stringify({ "tollgate-bench": benchIssuer.publicJwks }),
    AUTH_TOKEN: await benchToken("bench-services", ["service"]),
  },
  onLine: (name, line, stream) => {
    if (stream !== "stderr") return;
    if (profiler?.onLine(name, line)) return;
    console.error(`[${name}] ${line}`);
  },
});
const servicePids = () => services.processes.map((p) => p.child.pid!);
const ledgerPids = () => services.replicas.ledger.map((p) => p.child.pid!);

try {
  const entitlements = createClient(entitlementsV1.EntitlementsServiceClient, services.addresses.entitlements, credentials);
  const pricing = createClient(pricingV1.PricingServiceClient, services.addresses.pricing, credentials);
  const clients = ledgerClients(services.replicas.ledger.map((p) => p.address));
  /** One channel to each ledger replica. */
  const replicaClients = clients.slice(0, Math.min(options.replicas, CHANNELS));

  log(`seeding a rate table, two plans and ${ACCOUNTS.toLocaleString("en")} accounts`);
  /** Seeding is not measured: on a busy machine a call (or 64 at once) may take longer than the usual 10 s deadline. */
  const SEEDING = { deadlineMs: 120_000 };
  await call(pricing, pricing.publishRateTable, {
    tableId: "bench", effectiveFrom: new Date(Date.now() - 60_000), actor: "bench", reason: "bench", idempotencyKey: "",
    rates: [{ bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "bench-model", microsPerReply: String(CREDIT) } } }],
  }, SEEDING);
  const plan = (planId: string, credits: number, negativeCredits: number) =>
    call(entitlements, entitlements.publishPlan, {
      actor: "bench", reason: "bench",
      plan: entitlementsV1.Plan.fromPartial({
        planId, name: planId, rateTableId: "bench",
        allotments: [{ unit: commonV1.Unit.UNIT_CREDITS, amountMicros: String(BigInt(credits) * BigInt(CREDIT)) }],
        limits: [{ unit: commonV1.Unit.UNIT_CREDITS, negativeLimitMicros: String(negativeCredits * CREDIT), lowCreditLimitMicros: "0" }],
        thresholds: { bannerPercents: [50, 100], emailPercents: [] },
      }),
    }, SEEDING);
  await plan("bench", 1_000_000_000, 0);
  await plan("bench-edge", 100, 50);
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`);
  const create = (accountId: string, planId = "bench") =>
    call(entitlements, entitlements.createAccount, entitlementsV1.CreateAccountRequest.fromPartial({ accountId, name: accountId, planId, seats: 1 }), SEEDING);
  await create("hot");
  await create("edge", "bench-edge");
  for (let i = 0; i < accounts.length; i += 64) await Promise.all(accounts.slice(i, i + 64).map((a) => create(a)));
  // First sight of an account in a ledger process fetches it once and opens its cycle; do that in each replica before measuring.
  const warm = [...accounts, "hot", "edge"];
  for (let i = 0; i < warm.length; i += 64) {
    await Promise.all(warm.slice(i, i + 64).flatMap((accountId) => replicaClients.map((c) => call(c, c.getBalance, { accountId }, SEEDING))));
  }

  const pick = () => accounts[Math.floor(Math.random() * accounts.length)]!;
  const pair = async (client: ledgerV1.LedgerServiceClient, accountId: string, key: string, latencies: Latencies) => {
    const hold = await latencies.time("Authorize", () => call(client, client.authorize, authorizeReq(accountId, `a-${key}`)));
    if (!hold.allowed) throw new Error(`denied: ${ledgerV1.denialReasonToJSON(hold.reason)}`);
    await latencies.time("Charge", () => call(client, client.charge, chargeReq(accountId, hold.holdId, `c-${key}`, true)));
  };

  interface WorkloadResult {
    name: string;
    unit: string;
    loop: LoopResult;
    perSecond: number;
    serviceCpuMsPerKiloOp: number;
    postgresCpuMsPerKiloOp: number;
    /** Only the backends connected to the bench's database (the server may be shared with other work). */
    benchBackendsCpuMsPerKiloOp: number;
    /** Deadlocks detected in the bench database during the workload (and its invariant check). */
    deadlocks: number;
    /** The largest ledger's largest resident memory during the workload. */
    ledgerRssMaxMiB: number;
    invariants: InvariantReport;
    extra?: Record<string, number>;
    profile?: Record<string, ProfileSummary>;
    allocations?: Record<string, AllocationSummary>;
  }
  const workloads: WorkloadResult[] = [];
  let ledgerRssMaxMiB = 0;

  /** Updates of ledger.balances so far; idle backends report their statistics within 10 s, so this waits for them. */
  async function balanceRowUpdates(): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query(`select coalesce(sum(n_tup_upd), 0)::bigint as n from pg_stat_user_tables where schemaname = 'ledger' and relname = 'balances'`);
      return Number(rows[0].n);
    } finally {
      await client.end();
    }
  }

  async function workload(name: Workload, unit: string, body: () => Promise<{ loop: LoopResult; operations?: number; extra?: Record<string, number> }>) {
    if (!runs(name)) return undefined;
    log(`${name}: ${SECONDS} s, ${CONCURRENCY} callers on ${CHANNELS} channels${options.replicas > 1 ? ` to ${options.replicas} ledger replicas` : ""}`);
    const stopProfiles = await profiler?.start(name);
    const serviceCpu = new CpuMeter(servicePids);
    const postgresCpu = new CpuMeter(postgresPids);
    let backends = await benchBackends();
    const deadlocksBefore = await benchDeadlocks();
    const backendsCpu = new CpuMeter(() => backends);
    let rssMaxMiB = 0;
    const rss = setInterval(() => {
      rssMaxMiB = Math.max(rssMaxMiB, ...ledgerPids().map(rssMiB));
      ledgerRssMaxMiB = Math.max(ledgerRssMaxMiB, rssMaxMiB);
    }, 250);
    const { loop, operations = loop.operations, extra } = await body();
    clearInterval(rss);
    const profiles = await stopProfiles?.();
    // Backends that connected during the workload count from zero.
    backends = [...new Set([...backends, ...(await benchBackends())])];
    const backendsSeconds = backendsCpu.seconds();
    const kilo = Math.max(operations, 1) / 1000;
    const result: WorkloadResult = {
      name,
      unit,
      loop,
      perSecond: operations / loop.seconds,
      serviceCpuMsPerKiloOp: round((serviceCpu.seconds() * 1000) / kilo),
      postgresCpuMsPerKiloOp: round((postgresCpu.seconds() * 1000) / kilo),
      benchBackendsCpuMsPerKiloOp: round((backendsSeconds * 1000) / kilo),
      ledgerRssMaxMiB: round(rssMaxMiB, 1),
      invariants: await checkInvariants(databaseUrl),
      deadlocks: (await benchDeadlocks()) - deadlocksBefore,
      ...(extra ? { extra } : {}),
      ...(profiles
        ? {
            profile: Object.fromEntries([...profiles].map(([process, { cpu }]) => [process, summarise(cpu, operations)])),
            allocations: Object.fromEntries([...profiles].map(([process, { allocation }]) => [process, summariseAllocations(allocation, operations)])),
          }
        : {}),
    };
    if (result.profile) log(`  profiles in ${options.profileDir}; the ledger's attributed CPU by category: ${describeProfile(result.profile["ledger-0"])}`);
    if (result.allocations) log(`  the ledger's allocations: ${describeAllocations(result.allocations["ledger-0"])}`);
    if (loop.errors > 0) log(`  ${loop.errors} errors, first: ${loop.firstError}`);
    if (!result.invariants.ok) log(`  INVARIANT VIOLATED: ${result.invariants.violations.join("; ")}`);
    if (result.deadlocks > 0) log(`  ${result.deadlocks} deadlocks detected in the bench database`);
    workloads.push(result);
    return result;
  }

  log(`warming up the platform: ${WARM_UP_SECONDS} s of W-uniform, not measured`);
  await closedLoop(CONCURRENCY, WARM_UP_SECONDS, (worker, iteration, latencies) => pair(clients[worker % CHANNELS]!, pick(), `w-${worker}-${iteration}`, latencies));
  const uniform = await workload("W-uniform", "pairs/s", async () => ({
    loop: await closedLoop(CONCURRENCY, SECONDS, (worker, iteration, latencies) => pair(clients[worker % CHANNELS]!, pick(), `u-${worker}-${iteration}`, latencies)),
  }));

  /** Major garbage collections of the ledger processes so far (their `v8js.gc.duration` metric): how many, and seconds in them. */
  async function ledgerMajorGcs(): Promise<{ count: number; seconds: number }> {
    let count = 0;
    let seconds = 0;
    for (const ledger of services.replicas.ledger) {
      if (!ledger.metrics) continue;
      const samples = parseSamples(await (await fetch(ledger.metrics)).text());
      count += value(samples, "v8js_gc_duration_count", { v8js_gc_type: "major" }) ?? 0;
      seconds += value(samples, "v8js_gc_duration_sum", { v8js_gc_type: "major" }) ?? 0;
    }
    return { count, seconds };
  }

  /** Says so when an unmeasured loop had errors (they would otherwise go unseen). */
  function warmUpErrors(what: string, loop: LoopResult): void {
    if (loop.errors > 0) log(`${what}: ${loop.errors} errors while warming up (first: ${loop.firstError})`);
  }

  /** Authorize latency at half the W-uniform maximum, against the platform and against the canned server. */
  async function openLoops(uniformPerSecond: number) {
    const halfRate = Math.max(1, uniformPerSecond / 2);
    // Each measured open loop follows the same loop unmeasured, so neither figure holds a start: the platform's the closed
    // loops' aftermath, the canned server's a new process's compilation and its channels' connections.
    log(`W-uniform open loop at ${round(halfRate, 0)} pairs/s (half the maximum): ${WARM_UP_SECONDS} s unmeasured, then ${SECONDS} s`);
    warmUpErrors("W-uniform open loop", await openPairs(clients, halfRate, pick, "ow", WARM_UP_SECONDS));
    const gcBefore = await ledgerMajorGcs();
    // Half a second more after reading the metrics (an export the ledger does on its event loop), counted in the collections.
    warmUpErrors("W-uniform open loop", await openPairs(clients, halfRate, pick, "os", 0.5));
    const platform = await openPairs(clients, halfRate, pick, "o");
    const gcAfter = await ledgerMajorGcs();
    const majorGcs = { count: gcAfter.count - gcBefore.count, ms: round((gcAfter.seconds - gcBefore.seconds) * 1000, 1) };
    // The floor of that figure on this machine: the same open loop against the canned server (load generator and gRPC alone).
    const floorSeconds = quick ? 2 : SECONDS;
    log(`B-grpc-noop open loop at the same rate: ${WARM_UP_SECONDS} s unmeasured, then ${floorSeconds} s`);
    const noopAgain = await startNoop();
    warmUpErrors("B-grpc-noop open loop", await openPairs(noopAgain.clients, halfRate, () => "noop", "nw", WARM_UP_SECONDS));
    const noop = await openPairs(noopAgain.clients, halfRate, () => "noop", "no", floorSeconds);
    noopAgain.stop();
    return { halfRate, platform, noop, majorGcs, slowest: platform.latencies.slowest("Authorize") };
  }
  const open = options.openLoop && uniform ? await openLoops(uniform.perSecond) : undefined;

  // Balance-row updates per pair (pg_stat_user_tables): how well the hot row's lock is amortised over batches (read outside the CPU window).
  const balanceUpdatesBefore = runs("W-hot") ? await balanceRowUpdates() : 0;
  const hot = await workload("W-hot", "pairs/s", async () => ({
    loop: await closedLoop(CONCURRENCY, SECONDS, (worker, iteration, latencies) => pair(clients[worker % CHANNELS]!, "hot", `h-${worker}-${iteration}`, latencies)),
  }));
  if (hot) hot.extra = { ...hot.extra, balanceRowUpdatesPerPair: round(((await balanceRowUpdates()) - balanceUpdatesBefore) / Math.max(hot.loop.operations, 1), 3) };

  let charges = 0;
  await workload("W-stream", "charges/s", async () => {
    const loop = await closedLoop(CONCURRENCY, SECONDS, async (worker, iteration, latencies) => {
      const client = clients[worker % CHANNELS]!;
      const accountId = pick();
      const key = `s-${worker}-${iteration}`;
      const hold = await latencies.time("Authorize", () => call(client, client.authorize, authorizeReq(accountId, `a-${key}`, 21)));
      for (let i = 0; i < 20; i++) {
        await latencies.time("Charge", () => call(client, client.charge, chargeReq(accountId, hold.holdId, `c-${key}-${i}`, false)));
        charges++;
      }
      await latencies.time("Charge", () => call(client, client.charge, chargeReq(accountId, hold.holdId, `c-${key}-final`, true)));
      charges++;
    });
    return { loop, operations: charges };
  });

  // The same callers and work as W-stream, over Meter streams: open (the hold), 20 increments each waited for, close (the final charge).
  let meterCharges = 0;
  await workload("W-meter", "charges/s", async () => {
    const loop = await closedLoop(CONCURRENCY, SECONDS, async (worker, iteration, latencies) => {
      const client = clients[worker % CHANNELS]!;
      const charged = await meterWork(client, { accountId: pick(), workId: `m-${worker}-${iteration}`, estimate: usage(21) }, usage(1), 20, latencies);
      meterCharges += charged;
    });
    return { loop, operations: meterCharges };
  });

  let replays = 0;
  let conflicts = 0;
  await workload("W-replay", "pairs/s", async () => {
    const done: { accountId: string; key: string; holdId: string }[] = [];
    const loop = await closedLoop(CONCURRENCY, SECONDS, async (worker, iteration, latencies) => {
      const client = clients[worker % CHANNELS]!;
      const roll = Math.random();
      const previous = done.length > 0 ? done[Math.floor(Math.random() * done.length)]! : undefined;
      if (previous && roll < 0.01) {
        // Same key, different body: must be refused.
        const error = await call(client, client.authorize, authorizeReq(previous.accountId, `a-${previous.key}`, 2)).then(() => undefined, (e: unknown) => e as { code?: number });
        if (error?.code !== 6) throw new Error("a reused key with a different body was not refused");
        conflicts++;
        return;
      }
      if (previous && roll < 0.11) {
        const again = await latencies.time("Authorize", () => call(client, client.authorize, authorizeReq(previous.accountId, `a-${previous.key}`)));
        if (again.holdId !== previous.holdId) throw new Error("a replay returned a different hold");
        replays++;
        return;
      }
      const accountId = pick();
      const key = `r-${worker}-${iteration}`;
      const hold = await latencies.time("Authorize", () => call(client, client.authorize, authorizeReq(accountId, `a-${key}`)));
      await latencies.time("Charge", () => call(client, client.charge, chargeReq(accountId, hold.holdId, `c-${key}`, true)));
      done.push({ accountId, key, holdId: hold.holdId });
    });
    return { loop, extra: { replays, conflicts } };
  });

  let stopped = 0;
  await workload("W-edge", "charges/s", async () => {
    const loop = await closedLoop(16, Math.min(SECONDS, 3), async (worker, iteration, latencies) => {
      const client = clients[worker % CHANNELS]!;
      const result = await latencies.time("Charge", () => call(client, client.charge, chargeReq("edge", "", `e-${worker}-${iteration}`, true)));
      if (!result.proceed) stopped++;
    });
    return { loop, extra: { stoppedCharges: stopped } };
  });

  clients.forEach((c) => c.close());
  entitlements.close();
  pricing.close();

  // ── report ────────────────────────────────────────────────────────────────
  const byName = Object.fromEntries(workloads.map((w) => [w.name, w]));
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? round(a / b, 3) : null);
  const authorizeP99AtHalf = open?.platform.latencies.percentiles().Authorize?.p99Ms ?? null;
  const noopP99AtHalf = open?.noop.latencies.percentiles().Authorize?.p99Ms ?? null;
  const rate = (name: Workload) => byName[name]?.perSecond;
  const uniformPostgresCpu = byName["W-uniform"]?.postgresCpuMsPerKiloOp;
  // The goals of BENCHMARK.md, in its order and words.
  const goals = [
    { figure: "W-uniform pairs/s ÷ B-grpc-noop pairs/s", value: ratio(rate("W-uniform"), noopResult?.perSecond), goal: 0.6, atLeast: true },
    { figure: "W-uniform pairs/s ÷ B-pg-uniform tps", value: ratio(rate("W-uniform"), pgUniformTps), goal: 0.25, atLeast: true },
    { figure: "W-hot pairs/s ÷ B-pg-hot tps", value: ratio(rate("W-hot"), pgHotTps), goal: 1.0, atLeast: true },
    { figure: "W-hot pairs/s ÷ W-uniform pairs/s", value: ratio(rate("W-hot"), rate("W-uniform")), goal: 0.8, atLeast: true },
    { figure: "W-stream charges/s ÷ W-uniform pairs/s", value: ratio(rate("W-stream"), rate("W-uniform")), goal: 1.5, atLeast: true },
    { figure: "W-meter charges/s ÷ W-stream charges/s", value: ratio(rate("W-meter"), rate("W-stream")), goal: 1.0, atLeast: true },
    { figure: "PostgreSQL CPU per W-uniform pair (ms)", value: uniformPostgresCpu === undefined ? null : round(uniformPostgresCpu / 1000, 3), goal: 0.5, atLeast: false },
    { figure: "Authorize p99 at half the maximum rate ÷ B-grpc-noop p99 at the same rate", value: ratio(authorizeP99AtHalf, noopP99AtHalf), goal: 2.0, atLeast: false },
    { figure: "ledger resident memory under W-uniform (MiB)", value: byName["W-uniform"]?.ledgerRssMaxMiB ?? null, goal: 300, atLeast: false },
  ].map((g) => ({ ...g, met: g.value === null ? null : g.atLeast ? g.value >= g.goal : g.value <= g.goal }));

  if (noopResult) {
    console.log("\nBaselines");
    console.table({
      "B-pg-uniform": { "tps": pgUniformTps === null ? "n/a" : round(pgUniformTps, 0) },
      "B-pg-hot": { "tps": pgHotTps === null ? "n/a" : round(pgHotTps, 0) },
      "B-grpc-noop": { "tps": round(noopResult.perSecond, 0), ...flatten(noopResult.latencies) },
    });
  }
  console.log("Workloads");
  console.table(Object.fromEntries(workloads.map((w) => [w.name, {
    rate: `${round(w.perSecond, 0)} ${w.unit}`,
    errors: w.loop.errors,
    ...flatten(w.loop.latencies),
    "svc CPU ms/1k": w.serviceCpuMsPerKiloOp,
    "pg CPU ms/1k": w.postgresCpuMsPerKiloOp,
    "bench db CPU ms/1k": w.benchBackendsCpuMsPerKiloOp,
    deadlocks: w.deadlocks,
    invariants: w.invariants.ok ? "ok" : "VIOLATED",
  }])));
  if (open) {
    console.log(`Open loop at half the maximum rate: ${round(open.platform.perSecond, 0)} pairs/s`, open.platform.latencies.percentiles());
    console.log(`The same open loop against B-grpc-noop:`, open.noop.latencies.percentiles());
    // Where the tail comes from: a few windows are stalls; the ledger's major collections are one cause of them.
    const windows = open.slowest.map((w) => `${w.fromS}${w.toS > w.fromS ? `–${w.toS}` : ""} s (${w.count}, worst ${w.worstMs} ms)`);
    console.log(`Slowest 1 % of the open loop's Authorizes started at: ${windows.join("; ")}`);
    console.log(`Ledger major garbage collections during it: ${open.majorGcs.count} (${open.majorGcs.ms} ms of pauses)`);
    const pauses = (gc: GcPauses | undefined) =>
      gc ? `${gc.major.count} major (${gc.major.ms} ms), ${gc.other.count} other (${gc.other.ms} ms: scavenges, incremental steps), longest ${gc.longest.ms} ms at ${gc.longest.atS} s` : "n/a";
    console.log(`The load generator's own collections: ${pauses(open.platform.loadGeneratorGc)} against the platform; ${pauses(open.noop.loadGeneratorGc)} against B-grpc-noop`);
  }
  console.log("Goals");
  console.table(goals.map((g) => ({ figure: g.figure, value: g.value ?? "n/a", goal: `${g.atLeast ? "≥" : "≤"} ${g.goal}`, met: g.met === null ? "n/a" : g.met ? "yes" : "no" })));

  const results = {
    at: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    machine: { nproc: availableParallelism(), node: process.version, postgres: process.env.BENCH_PG_VERSION, cpuSecondsOfThisProcess: round(cpuSeconds(process.pid)) },
    settings: {
      seconds: SECONDS, accounts: ACCOUNTS, concurrency: CONCURRENCY, channels: CHANNELS, replicas: options.replicas,
      ...(options.only ? { only: [...options.only] } : {}),
    },
    baselines: noopResult ? { pgUniformTps, pgHotTps, grpcNoop: { pairsPerSecond: noopResult.perSecond, latencies: noopResult.latencies.percentiles() } } : null,
    workloads: workloads.map((w) => ({
      name: w.name, unit: w.unit, perSecond: round(w.perSecond), operations: w.loop.operations, errors: w.loop.errors,
      latencies: w.loop.latencies.percentiles(), serviceCpuMsPerKiloOp: w.serviceCpuMsPerKiloOp, postgresCpuMsPerKiloOp: w.postgresCpuMsPerKiloOp,
      benchBackendsCpuMsPerKiloOp: w.benchBackendsCpuMsPerKiloOp, deadlocks: w.deadlocks, ledgerRssMaxMiB: w.ledgerRssMaxMiB,
      invariants: w.invariants, ...(w.extra ? { extra: w.extra } : {}), ...(w.profile ? { profile: w.profile } : {}), ...(w.allocations ? { allocations: w.allocations } : {}),
    })),
    openLoop: open
      ? {
          ratePerSecond: round(open.halfRate), achieved: round(open.platform.perSecond), latencies: open.platform.latencies.percentiles(), grpcNoopLatencies: open.noop.latencies.percentiles(),
          slowestAuthorizes: open.slowest, ledgerMajorGcs: open.majorGcs,
          loadGeneratorGc: { platform: open.platform.loadGeneratorGc, grpcNoop: open.noop.loadGeneratorGc },
        }
      : null,
    ledgerRssMaxMiB: round(ledgerRssMaxMiB, 1),
    goals,
  };
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, JSON.stringify(results, null, 2));
  log(`wrote ${options.resultsFile}`);
  const violated = workloads.filter((w) => !w.invariants.ok);
  process.exitCode = violated.length > 0 ? 1 : 0;
  if (violated.length > 0) log(`invariants violated after ${violated.map((w) => w.name).join(", ")}`);
} finally {
  await services.stop();
  await database.drop();
}

// W-replicas (BENCHMARK.md): with the whole bench, W-uniform and W-hot again with two ledger and two notifications replicas.
if (baselines && options.replicas === 1 && process.exitCode === 0) await replicasBesideOne();

/**
 * Runs this bench again (`--only W-uniform,W-hot --replicas 2`, a fresh
 * database, the same seeding and warm-up) once the first run's services have
 * stopped, prints its pairs/s beside one replica's and adds them to the
 * results (`replicas`).
 */
async function replicasBesideOne(): Promise<void> {
  const replicasFile = "bench/results/replicas.json";
  log("W-replicas: W-uniform and W-hot with 2 ledger and 2 notifications replicas on one PostgreSQL (this bench again, on a fresh database)");
  const args = [...process.execArgv, fileURLToPath(import.meta.url), "--only", "W-uniform,W-hot", "--replicas", "2", "--results", replicasFile, ...(quick ? ["--quick"] : [])];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on("line", (line) => console.log(`  [W-replicas] ${line}`));
  const code = await new Promise<number>((done) => child.on("close", (exit) => done(exit ?? 1)));
  if (code !== 0) {
    log(`W-replicas: the run with 2 replicas exited with ${code}`);
    process.exitCode = code;
    return;
  }
  type Results = { workloads: { name: string; perSecond: number; errors: number; serviceCpuMsPerKiloOp: number; postgresCpuMsPerKiloOp: number; deadlocks: number; invariants: InvariantReport }[] };
  const one = JSON.parse(readFileSync(resultsFile, "utf8")) as Results & Record<string, unknown>;
  const two = JSON.parse(readFileSync(resolve(root, replicasFile), "utf8")) as Results;
  const rows = (["W-uniform", "W-hot"] as const).map((name) => {
    const single = one.workloads.find((w) => w.name === name)!;
    const pair = two.workloads.find((w) => w.name === name)!;
    return {
      name, onePerSecond: single.perSecond, twoPerSecond: pair.perSecond, ratio: round(pair.perSecond / single.perSecond, 3),
      serviceCpuMsPerKiloOp: pair.serviceCpuMsPerKiloOp, postgresCpuMsPerKiloOp: pair.postgresCpuMsPerKiloOp, errors: pair.errors, deadlocks: pair.deadlocks, invariants: pair.invariants.ok,
    };
  });
  console.log("W-replicas (2 ledger and 2 notifications replicas, beside 1)");
  console.table(Object.fromEntries(rows.map((r) => [r.name, {
    "1 replica pairs/s": round(r.onePerSecond, 0), "2 replicas pairs/s": round(r.twoPerSecond, 0), "2 ÷ 1": r.ratio,
    "svc CPU ms/1k": r.serviceCpuMsPerKiloOp, "pg CPU ms/1k": r.postgresCpuMsPerKiloOp, errors: r.errors, deadlocks: r.deadlocks, invariants: r.invariants ? "ok" : "VIOLATED",
  }])));
  writeFileSync(resultsFile, JSON.stringify({ ...one, replicas: { ledgerReplicas: 2, workloads: rows } }, null, 2));
  log(`added W-replicas to ${options.resultsFile}`);
}

function describeProfile(summary: ProfileSummary | undefined): string {
  if (!summary) return "no profile";
  const categories = Object.entries(summary.byCategory).map(([category, { percent, msPerKiloOp }]) => `${category} ${percent} % (${msPerKiloOp} ms/1k)`);
  return `${categories.join(", ")}; (program) ${summary.programMs} ms apart`;
}

function describeAllocations(summary: AllocationSummary | undefined): string {
  if (!summary) return "no profile";
  const categories = Object.entries(summary.byCategory).map(([category, { percent, bytesPerOp }]) => `${category} ${percent} % (${bytesPerOp} B/op)`);
  const top = summary.topFunctions.map(([frame, bytes]) => `    ${bytes} B/op  ${frame}`);
  return [`${summary.bytesPerOp} B per operation: ${categories.join(", ")}; the functions allocating the most themselves:`, ...top].join("\n");
}

function flatten(latencies: Latencies): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [rpc, p] of Object.entries(latencies.percentiles())) {
    out[`${rpc} p50 ms`] = p.p50Ms;
    out[`${rpc} p99 ms`] = p.p99Ms;
  }
  return out;
}
