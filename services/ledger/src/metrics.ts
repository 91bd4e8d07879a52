import { UNITS } from "@tollgate/rating";
import { cachedReading, type Meter } from "@tollgate/telemetry";
import type { OpenHolds } from "./data/operational-reads.js";
import type { ReconciliationState } from "./data/reconciliation.js";

/** How long one read of the open holds serves every collection (Prometheus scrapes and the OTLP push). */
const GAUGE_READ_TTL_MS = 1_000;

export interface LedgerMetricSources {
  openHolds: () => Promise<OpenHolds[]>;
  reconciliation: () => ReconciliationState;
  /** The watch streams followed (entitlements' accounts and plans, pricing's rate tables): versions published but not applied. */
  watchStreams: readonly { stream: string; versions(): number | undefined }[];
  /** The in-memory accounts (data/account-cache.ts): how many, GetAccount calls made to fill them, how many dropped. */
  accountCache: () => { accounts: number; fills: number; evictions: number };
}

/**
 * Every instrument of the ledger, made in one place. Attribute keys are the
 * span attributes' (`tollgate.*`), so a metric and a trace of the same call
 * are filtered the same way.
 */
export class LedgerMetrics {
  private readonly decisions;
  private readonly charges;
  private readonly chargedMicros;
  private readonly uncollectedMicros;
  private readonly batchSize;
  private readonly batchWait;

  constructor(meter: Meter, sources: LedgerMetricSources) {
    this.decisions = meter.createCounter("tollgate.ledger.decisions", {
      description: "Authorize, StartRun and Deploy decisions (replays not counted), by operation, unit, allowed and denial reason",
      unit: "{decision}",
    });
    this.charges = meter.createCounter("tollgate.ledger.charges", {
      description: "Charges (Charge calls and Meter stream increments and closes; replays not counted), by unit and whether the caller may proceed",
      unit: "{charge}",
    });
    this.chargedMicros = meter.createCounter("tollgate.ledger.charged", { description: "Micro-units charges collected, by unit", unit: "{micro-unit}" });
    this.uncollectedMicros = meter.createCounter("tollgate.ledger.uncollected", {
      description: "Micro-units charges could not collect (past the negative limit or a hard budget), by unit",
      unit: "{micro-unit}",
    });
    this.batchSize = meter.createHistogram("tollgate.ledger.group_commit.batch_size", {
      description: "Authorize/Charge calls carried by one group-commit transaction (1: the call ran alone)",
      unit: "{call}",
      advice: { explicitBucketBoundaries: [1, 2, 4, 8, 16, 32, 64] },
    });
    this.batchWait = meter.createHistogram("tollgate.ledger.group_commit.wait", {
      description: "Time a call waited in its group-commit lane before its transaction started",
      unit: "ms",
      advice: { explicitBucketBoundaries: [0.1, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1_000] },
    });

    const holdsCount = meter.createObservableGauge("tollgate.ledger.holds.open", { description: "Open holds, by unit", unit: "{hold}" });
    const holdsAmount = meter.createObservableGauge("tollgate.ledger.holds.open_amount", {
      description: "Micro-units the open holds still reserve, by unit",
      unit: "{micro-unit}",
    });
    const readHolds = cachedReading(sources.openHolds, GAUGE_READ_TTL_MS);
    meter.addBatchObservableCallback(async (result) => {
      const open = new Map((await readHolds()).map((holds) => [holds.unit, holds]));
      // Every unit, 0 when none is open: a series that vanished would read as no data to an alert, not as no holds.
      for (const unit of UNITS) {
        result.observe(holdsCount, open.get(unit)?.count ?? 0, { "tollgate.unit": unit });
        result.observe(holdsAmount, Number(open.get(unit)?.heldMicros ?? 0n), { "tollgate.unit": unit });
      }
    }, [holdsCount, holdsAmount]);

    const mismatches = meter.createObservableGauge("tollgate.ledger.reconciliation.mismatches", {
      description: "Account-units whose books disagree (journal: pools vs journal lines; held: held amount vs open holds), in the last full pass or the one in progress",
      unit: "{balance}",
    });
    const passes = meter.createObservableCounter("tollgate.ledger.reconciliation.passes", { description: "Full reconciliation passes over every account", unit: "{pass}" });
    const checked = meter.createObservableCounter("tollgate.ledger.reconciliation.accounts_checked", { description: "Accounts reconciled", unit: "{account}" });
    meter
      .createObservableGauge("tollgate.ledger.watch.version_lag", {
        description: "Versions a watch stream's server has published that this ledger has not applied yet (latest published minus applied), by stream",
        unit: "{version}",
      })
      .addCallback((result) => {
        for (const watched of sources.watchStreams) {
          const versions = watched.versions();
          if (versions !== undefined) result.observe(versions, { "tollgate.stream": watched.stream });
        }
      });

    const cached = meter.createObservableGauge("tollgate.ledger.account_cache.accounts", {
      description: "Accounts the ledger keeps in memory (at most ACCOUNT_CACHE_ACCOUNTS)",
      unit: "{account}",
    });
    const fills = meter.createObservableCounter("tollgate.ledger.account_cache.fills", {
      description: "GetAccount calls made for uses not found in memory (a fill that raced a change of its account reads twice)",
      unit: "{call}",
    });
    const evictions = meter.createObservableCounter("tollgate.ledger.account_cache.evictions", {
      description: "Accounts dropped from memory, least recently used first, to stay within ACCOUNT_CACHE_ACCOUNTS",
      unit: "{account}",
    });
    meter.addBatchObservableCallback((result) => {
      const stats = sources.accountCache();
      result.observe(cached, stats.accounts);
      result.observe(fills, stats.fills);
      result.observe(evictions, stats.evictions);
    }, [cached, fills, evictions]);

    meter.addBatchObservableCallback((result) => {
      const state = sources.reconciliation();
      for (const [check, count] of Object.entries(state.mismatches)) result.observe(mismatches, count, { "tollgate.check": check });
      result.observe(passes, state.passes);
      result.observe(checked, state.accountsChecked);
    }, [mismatches, passes, checked]);
  }

  decision(operation: "authorize" | "start_run" | "deploy", unit: string, allowed: boolean, reason: string | undefined): void {
    this.decisions.add(1, { "tollgate.operation": operation, "tollgate.unit": unit, "tollgate.allowed": allowed, ...(reason ? { "tollgate.reason": reason } : {}) });
  }

  charge(unit: string, proceed: boolean, chargedMicros: bigint, uncollectedMicros: bigint): void {
    const attributes = { "tollgate.unit": unit };
    this.charges.add(1, { ...attributes, "tollgate.allowed": proceed });
    if (chargedMicros > 0n) this.chargedMicros.add(Number(chargedMicros), attributes);
    if (uncollectedMicros > 0n) this.uncollectedMicros.add(Number(uncollectedMicros), attributes);
  }

  groupCommit(batchSize: number, waitsMs: number[]): void {
    this.batchSize.record(batchSize);
    for (const waitMs of waitsMs) this.batchWait.record(waitMs);
  }
}
