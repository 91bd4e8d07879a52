import type { RollOverCommand } from "../commands.js";
import { type AccountState, type BatchContext, type Pool, poolsOldestFirst, traceOf } from "../state.js";
import type { Write } from "../writes.js";
import { grantPool, poolByGrantKey } from "./grants.js";

export function cycleGrantKey(accountId: string, unit: string, cycleStartMs: number): string {
  return `monthly:${accountId}:${unit}:${cycleStartMs}`;
}

/**
 * Opens the account's cycle, or rolls it into a new one, idempotently:
 * - each unit's limits follow the plan (and the account's overrides);
 * - the cycle's allotment is granted once (`monthly`, or `spend_cap` for a
 *   BYOM account's USD); a spend cap changed within the cycle is followed
 *   with an `adjust` entry on the cap pool, and a move within the cycle to a
 *   plan with a larger allotment raises the cycle's to it (`raiseAllotment`);
 * - on a new cycle (in every unit the account has, named by the command or not), the previous cycle's pools close: unused allotment lapses
 *   (a `reset` entry back to `grants:`), a negative balance is carried into
 *   the new allotment (a `reset` entry from the new pool to the old one; with
 *   no new allotment the negative stays where it is) — but spend past a
 *   spend cap is the cycle's own: it closes with its cycle (a `reset` entry
 *   from `grants:`), and the new cycle's cap is whole —, the thresholds
 *   crossed are cleared, the pools carried over start the cycle with their
 *   balance as what they were given (`carryIntoCycle`), and a
 *   `cycle_started` event says so;
 * - sign-up grants are given once per account.
 * A call for a cycle older than the account's changes nothing but the limits.
 */
export function rollOver(account: AccountState, command: RollOverCommand, ctx: BatchContext): { rolled: boolean; cycleStartMs: number; writes: Write[] } {
  const writes: Write[] = [];
  const id = account.accountId;
  const previous = account.cycle;
  const rolled = previous !== null && previous.startMs < command.cycleStartMs;
  const late = previous !== null && command.cycleStartMs < previous.startMs;
  const kept = previous !== null && previous.startMs >= command.cycleStartMs;
  const cycleStartMs = kept ? previous.startMs : command.cycleStartMs;
  const cycleEndMs = kept ? previous.endMs : command.cycleEndMs;
  const openedAtMs = kept ? previous.openedAtMs : ctx.nowMs;
  const cycle = { planId: command.planId, planVersion: command.planVersion, startMs: cycleStartMs, endMs: cycleEndMs, ...(openedAtMs === undefined ? {} : { openedAtMs }) };
  const movedPlan = previous !== null && (previous.planId !== command.planId || previous.planVersion !== command.planVersion);
  // Only what changes is written: a repeated call writes nothing.
  if (!previous || previous.planId !== cycle.planId || previous.planVersion !== cycle.planVersion || previous.startMs !== cycleStartMs || previous.endMs !== cycleEndMs || previous.openedAtMs !== openedAtMs) {
    writes.push({ type: "cycle", accountId: id, cycle });
  }
  const units = [...command.units].sort((a, b) => (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : 0));
  for (const setup of units) {
    const limits = account.units.get(setup.unit);
    if (!limits || limits.negativeLimitMicros !== setup.negativeLimitMicros || limits.lowCreditLimitMicros !== setup.lowCreditLimitMicros) {
      writes.push({ type: "unit", accountId: id, unit: setup.unit, negativeLimitMicros: setup.negativeLimitMicros, lowCreditLimitMicros: setup.lowCreditLimitMicros });
    }
    let newPool: Pool | null = null;
    if (!late) {
      const key = cycleGrantKey(id, setup.unit, command.cycleStartMs);
      const cap = poolByGrantKey(account, key);
      if (setup.allotmentMicros > 0n && !cap) {
        const granted = grantPool(account, {
          unit: setup.unit, kind: setup.kind, amountMicros: setup.allotmentMicros, expiresAtMs: command.cycleEndMs, priority: 0, grantKey: key,
          reason: setup.kind === "spend_cap" ? "monthly spend cap" : "monthly allotment", actor: "system", traceId: traceOf(ctx).traceId, reload: null,
        }, ctx);
        newPool = granted.pool;
        writes.push(...granted.writes);
      } else if (cap) {
        newPool = cap;
        if (setup.kind === "spend_cap" && cap.grantedMicros !== setup.allotmentMicros) writes.push(...followCap(account, cap, setup.allotmentMicros, ctx));
        if (setup.kind === "monthly" && movedPlan && setup.allotmentMicros > (cap.allottedMicros ?? cap.grantedMicros)) writes.push(...raiseAllotment(account, cap, setup.allotmentMicros, ctx));
      }
    }
    if (rolled) {
      writes.push(
        { type: "crossed", accountId: id, unit: setup.unit, crossedPercents: [] },
        ...closeCycle(account, setup.unit, newPool, command.cycleStartMs, ctx),
        ...carryIntoCycle(account, setup.unit, command.cycleStartMs),
      );
    }
  }
  if (rolled) {
    // The units the command does not name (one the plan does not, used before: a grant of tool runs) roll too, or
    // the next call in one finds the cycle rolled already and its thresholds stay crossed from the last cycle.
    const named = new Set(units.map((u) => u.unit));
    for (const unit of [...account.units.keys()].filter((u) => !named.has(u)).sort()) {
      writes.push({ type: "crossed", accountId: id, unit, crossedPercents: [] }, ...closeCycle(account, unit, null, command.cycleStartMs, ctx), ...carryIntoCycle(account, unit, command.cycleStartMs));
    }
  }
  // What the previous cycle's crossings put up (usage banners, prompts) is taken down by whoever follows the events.
  if (rolled) writes.push({ type: "outbox", event: { accountId: id, kind: "cycle_started", traceparent: traceOf(ctx).traceparent, payload: { cycle: new Date(cycleStartMs).toISOString() } } });
  const given = new Set<string>();
  for (const grant of command.signupGrants) {
    const grantKey = `signup:${id}:${grant.unit}`;
    // One per unit: of a plan with two in one unit (PublishPlan refuses those now), the first.
    if (given.has(grantKey)) continue;
    given.add(grantKey);
    writes.push(...grantPool(account, {
      unit: grant.unit, kind: "free_grant", amountMicros: grant.amountMicros, expiresAtMs: grant.expiresAtMs, priority: 0,
      grantKey, reason: "sign-up grant", actor: "system", traceId: traceOf(ctx).traceId, reload: null,
    }, ctx).writes);
  }
  return { rolled, cycleStartMs, writes };
}

/**
 * A move within the cycle to a plan with a larger allotment (an upgrade): the
 * cycle's monthly pool is given the difference at once, with a `grant` entry
 * (`grants:` pays, as for the allotment), so an account out of credits that
 * upgrades can go on before the cycle renews. A move to a smaller allotment
 * takes nothing back; the next cycle grants the new plan's.
 */
function raiseAllotment(account: AccountState, pool: Pool, allotmentMicros: bigint, ctx: BatchContext): Write[] {
  // Against what the plans gave (Adjusts by support are theirs: an upgrade neither undoes a take-back nor absorbs a goodwill credit).
  const writes = changeGrant(account, pool, allotmentMicros - (pool.allottedMicros ?? pool.grantedMicros), ctx, {
    kind: "grant", counter: `grants:${account.accountId}`, reason: "plan changed: the cycle's allotment raised to the new plan's",
  });
  return writes.map((write) => (write.type === "poolChange" ? { ...write, allottedMicros: allotmentMicros } : write));
}

/** A spend cap changed within the cycle: the cap pool follows it with an `adjust` entry. */
function followCap(account: AccountState, cap: Pool, capMicros: bigint, ctx: BatchContext): Write[] {
  return changeGrant(account, cap, capMicros - cap.grantedMicros, ctx, { kind: "adjust", counter: `adjustments:${account.accountId}`, reason: "spend cap changed" });
}

/** What the rollover gives a pool (or takes): its entry against `counter`, and the pool's balance and grant moved alike. */
function changeGrant(account: AccountState, pool: Pool, deltaMicros: bigint, ctx: BatchContext, entry: { kind: "grant" | "adjust"; counter: string; reason: string }): Write[] {
  return [
    {
      type: "entry",
      entry: {
        entryId: ctx.ids.entryId(), accountId: account.accountId, kind: entry.kind, unit: pool.unit, holdId: null, bucket: "", amountMicros: deltaMicros,
        uncollectedMicros: 0n, attribution: {}, rateTableVersion: 0n, reason: entry.reason, actor: "system", traceId: traceOf(ctx).traceId, atMs: ctx.nowMs,
        lines: [
          { ledgerAccount: `pool:${pool.poolId}`, poolId: pool.poolId, amountMicros: deltaMicros },
          { ledgerAccount: entry.counter, poolId: null, amountMicros: -deltaMicros },
        ],
      },
    },
    { type: "poolChange", accountId: account.accountId, poolId: pool.poolId, balanceDeltaMicros: deltaMicros, grantedDeltaMicros: deltaMicros },
  ];
}

/**
 * The pools of one unit that outlive the cycle (bonus, add-on, free grants)
 * start the new one with what they hold as what they were given, so percent
 * used (thresholds, the status icon: granted − balance over granted) counts
 * this cycle's usage only. Without it, an add-on of 3,000 with 600 left made
 * the new cycle start at 53 % used, and its first charge sent the 20 % and
 * 50 % banners and email. No balance moves, so there is no entry.
 */
function carryIntoCycle(account: AccountState, unit: string, cycleStartMs: number): Write[] {
  const writes: Write[] = [];
  for (const pool of poolsOldestFirst(account)) {
    if (pool.unit !== unit || pool.kind === "monthly" || pool.kind === "spend_cap" || pool.closed) continue;
    if (pool.expiresAtMs !== null && pool.expiresAtMs <= cycleStartMs) continue;
    const carried = pool.balanceMicros > 0n ? pool.balanceMicros : 0n;
    if (carried !== pool.grantedMicros) writes.push({ type: "poolChange", accountId: account.accountId, poolId: pool.poolId, balanceDeltaMicros: 0n, grantedDeltaMicros: carried - pool.grantedMicros });
  }
  return writes;
}

/** The previous cycle's pools of one unit close; a negative balance moves into the new allotment. */
function closeCycle(account: AccountState, unit: string, newPool: Pool | null, cycleStartMs: number, ctx: BatchContext): Write[] {
  const writes: Write[] = [];
  const old = poolsOldestFirst(account).filter(
    (p) => p.unit === unit && (p.kind === "monthly" || p.kind === "spend_cap") && !p.closed && p.poolId !== newPool?.poolId && p.expiresAtMs !== null && p.expiresAtMs <= cycleStartMs,
  );
  for (const pool of old) {
    const balance = pool.balanceMicros;
    // A spend cap caps each cycle's spend (seed 002: a monthly cap): what a cycle spent past it is not taken from the next's.
    const carries = balance < 0n && pool.kind !== "spend_cap";
    if (carries && !newPool) continue; // nothing to carry the negative into: it stays where it is
    if (balance !== 0n) {
      const counter = carries
        ? { ledgerAccount: `pool:${newPool!.poolId}`, poolId: newPool!.poolId, amountMicros: balance }
        : { ledgerAccount: `grants:${account.accountId}`, poolId: null, amountMicros: balance };
      const reason = balance > 0n ? "unused monthly allotment lapses" : carries ? "negative balance carried into the new cycle" : "spend past the cycle's spend cap closes with the cycle";
      writes.push({
        type: "entry",
        entry: {
          entryId: ctx.ids.entryId(), accountId: account.accountId, kind: "reset", unit, holdId: null, bucket: "", amountMicros: balance, uncollectedMicros: 0n,
          attribution: {}, rateTableVersion: 0n, reason,
          actor: "system", traceId: traceOf(ctx).traceId, atMs: ctx.nowMs,
          lines: [{ ledgerAccount: `pool:${pool.poolId}`, poolId: pool.poolId, amountMicros: -balance }, counter],
        },
      });
      if (carries) writes.push({ type: "poolChange", accountId: account.accountId, poolId: newPool!.poolId, balanceDeltaMicros: balance, grantedDeltaMicros: 0n });
    }
    writes.push({ type: "poolChange", accountId: account.accountId, poolId: pool.poolId, balanceDeltaMicros: -balance, grantedDeltaMicros: 0n, closed: true });
  }
  return writes;
}
