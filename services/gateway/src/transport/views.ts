/** Proto messages as the console's JSON: snake_case, units and kinds by name, amounts as micro-unit strings. */
import { elidedUrl } from "@tollgate/grpc-kit";
import { commonV1, entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";

const name = (json: string, prefix: string) => json.slice(prefix.length).toLowerCase();
export const unitName = (unit: commonV1.Unit) => name(commonV1.unitToJSON(unit), "UNIT_");
const bucketName = (bucket: commonV1.Bucket) => (bucket ? name(commonV1.bucketToJSON(bucket), "BUCKET_") : "");
const iso = (date: Date | undefined) => date?.toISOString() ?? null;

export function attributionView(a: commonV1.Attribution | undefined): Record<string, string> {
  if (!a) return {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(a)) {
    if (key === "surface") {
      if (value) out.surface = name(commonV1.surfaceToJSON(value as commonV1.Surface), "SURFACE_");
    } else if (value) out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = String(value);
  }
  return out;
}

export function accountView(a: entitlementsV1.Account) {
  return {
    id: a.accountId,
    name: a.name,
    plan_id: a.planId,
    plan_version: a.planVersion,
    seats: a.seats,
    status: name(entitlementsV1.accountStatusToJSON(a.status), "ACCOUNT_STATUS_"),
    deployment_mode: name(entitlementsV1.deploymentModeToJSON(a.deploymentMode), "DEPLOYMENT_MODE_"),
    billing_mode: name(entitlementsV1.billingModeToJSON(a.billingMode), "BILLING_MODE_"),
    admin_emails: a.adminEmails,
    spend_cap_micros: a.spendCapMicros,
    limit_overrides: a.limitOverrides.map(limitView),
    cycle_anchor: iso(a.cycleAnchor),
    created_at: iso(a.createdAt),
  };
}

/** A limit row: a unit's, or (work_kind set) one kind of work's in the unit. */
export function limitView(l: entitlementsV1.UsageLimits) {
  const unit = { unit: unitName(l.unit), low_credit_limit_micros: l.lowCreditLimitMicros, negative_limit_micros: l.negativeLimitMicros };
  return l.workKind ? { ...unit, work_kind: name(commonV1.workKindToJSON(l.workKind), "WORK_KIND_"), drafts_at_zero: l.draftsAtZero, stop_message: l.stopMessage } : unit;
}

export function planView(p: entitlementsV1.Plan) {
  return {
    id: p.version,
    plan_id: p.planId,
    version: p.version,
    name: p.name,
    tier: p.tier,
    free_tier: p.freeTier,
    rate_table_id: p.rateTableId,
    allotments: p.allotments.map((a) => ({ unit: unitName(a.unit), amount_micros: a.amountMicros, buckets: a.buckets.map(bucketName) })),
    thresholds: {
      banner_percents: p.thresholds?.bannerPercents ?? [],
      email_percents: p.thresholds?.emailPercents ?? [],
      upgrade_prompt_percent: p.thresholds?.upgradePromptPercent ?? 0,
      referral_prompt_percent: p.thresholds?.referralPromptPercent ?? 0,
    },
    limits: p.limits.map(limitView),
    published_at: iso(p.publishedAt),
    published_by: p.publishedBy,
    published_on_behalf_of: p.publishedOnBehalfOf || null,
    document: entitlementsV1.Plan.toJSON(p),
  };
}

export function balanceView(b: ledgerV1.GetBalanceResponse) {
  return {
    units: b.units.map((u) => ({
      unit: unitName(u.unit),
      balance_micros: u.balanceMicros,
      held_micros: u.heldMicros,
      available_micros: u.availableMicros,
      granted_micros: u.grantedMicros,
      used_micros: u.usedMicros,
      status_icon: name(ledgerV1.statusIconToJSON(u.statusIcon), "STATUS_ICON_"),
    })),
    pools: b.pools.map((p) => ({
      id: p.poolId,
      kind: name(entitlementsV1.poolKindToJSON(p.kind), "POOL_KIND_"),
      unit: unitName(p.unit),
      balance_micros: p.balanceMicros,
      granted_micros: p.grantedMicros,
      priority: p.priority,
      expires_at: iso(p.expiresAt),
    })),
    cycle: b.cycle
      ? {
          cycle_start: iso(b.cycle.cycleStart),
          cycle_end: iso(b.cycle.cycleEnd),
          days_elapsed: b.cycle.daysElapsed,
          days_left: b.cycle.daysLeft,
          average_per_day_micros: b.cycle.averagePerDayMicros,
          projected_days_to_empty: b.cycle.projectedDaysToEmpty,
          will_run_out_before_cycle_end: b.cycle.willRunOutBeforeCycleEnd,
          run_out_at: iso(b.cycle.runOutAt),
        }
      : null,
    budgets: b.budgets.map(budgetView),
  };
}

/** A budget as the console shows it: used and reserved against its limit. */
export function budgetView(b: ledgerV1.Budget) {
  return {
    id: b.budgetId,
    unit: unitName(b.unit),
    scope: name(ledgerV1.budgetScopeToJSON(b.scope), "BUDGET_SCOPE_"),
    scope_id: b.scopeId,
    limit_micros: b.limitMicros,
    mode: name(ledgerV1.budgetModeToJSON(b.mode), "BUDGET_MODE_"),
    per_cycle: b.perCycle,
    threshold_percents: b.thresholdPercents,
    used_micros: b.usedMicros,
    reserved_micros: b.reservedMicros,
  };
}

export function bannerView(b: notificationsV1.Banner) {
  return {
    id: b.bannerId,
    rule: b.rule,
    kind: b.kind === notificationsV1.BannerKind.BANNER_KIND_FIXED ? "fixed" : "dismissible",
    message: b.message,
    unit: unitName(b.unit),
    threshold_percent: b.thresholdPercent,
    created_at: iso(b.createdAt),
    dismissed: b.dismissed,
  };
}

export function entryView(e: ledgerV1.Entry) {
  return {
    id: e.entryId,
    account_id: e.accountId,
    kind: name(ledgerV1.entryKindToJSON(e.kind), "ENTRY_KIND_"),
    hold_id: e.holdId,
    unit: unitName(e.unit),
    bucket: bucketName(e.bucket),
    amount_micros: e.amountMicros,
    uncollected_micros: e.uncollectedMicros,
    attribution: attributionView(e.attribution),
    rate_table_id: e.rateTableId,
    rate_table_version: e.rateTableVersion,
    reason: e.reason,
    actor: e.actor,
    on_behalf_of: e.onBehalfOf,
    trace_id: e.traceId,
    created_at: iso(e.createdAt),
    // When the usage happened: a late charge's own time, else when it was recorded.
    occurred_at: iso(e.occurredAt ?? e.createdAt),
    lines: e.lines.map((l) => ({ ledger_account: l.ledgerAccount, pool_id: l.poolId, amount_micros: l.amountMicros })),
    reverses_entry_id: e.reversesEntryId !== "0" ? e.reversesEntryId : null,
    reversed_by_entry_id: e.reversedByEntryId !== "0" ? e.reversedByEntryId : null,
  };
}

export function holdView(h: ledgerV1.Hold) {
  return {
    id: h.holdId,
    account_id: h.accountId,
    unit: unitName(h.unit),
    amount_micros: h.amountMicros,
    charged_micros: h.chargedMicros,
    status: name(ledgerV1.holdStatusToJSON(h.status), "HOLD_STATUS_"),
    expires_at: iso(h.expiresAt),
    created_at: iso(h.createdAt),
    attribution: attributionView(h.attribution),
    rate_table_id: h.rateTableId,
    rate_table_version: h.rateTableVersion,
  };
}

export function rateTableView(t: pricingV1.RateTable) {
  return {
    id: `${t.tableId}@${t.version}`,
    table_id: t.tableId,
    version: t.version,
    sequence: t.sequence,
    effective_from: iso(t.effectiveFrom),
    published_at: iso(t.publishedAt),
    published_by: t.publishedBy,
    published_on_behalf_of: t.publishedOnBehalfOf || null,
    rates: t.rates.map((r) => pricingV1.Rate.toJSON(r)),
  };
}

export function notificationView(n: notificationsV1.Notification) {
  return {
    id: n.notificationId,
    account_id: n.accountId,
    channel: name(notificationsV1.channelToJSON(n.channel), "CHANNEL_"),
    // A webhook's URL by its origin (elidedUrl, which leaves an email address as it is): its path may be the credential,
    // and every console role reads this. The audit log shows a `recipient` by the same rule (withoutCredentials).
    recipient: elidedUrl(n.recipient),
    rule: n.rule,
    status: name(notificationsV1.deliveryStatusToJSON(n.status), "DELIVERY_STATUS_"),
    attempts: n.attempts,
    last_error: n.lastError,
    trace_id: n.traceId,
    created_at: iso(n.createdAt),
    delivered_at: iso(n.deliveredAt),
  };
}

/** Where an account's alerts go: its own email recipients (none: the account's admins), webhooks (each by its origin, the secret as its fingerprint) and per-rule channels. */
export function preferencesView(p: notificationsV1.Preferences) {
  return {
    account_id: p.accountId,
    email_recipients: p.emailRecipients,
    webhooks: p.webhooks.map((w) => ({ url: elidedUrl(w.url), secret_fingerprint: w.secret })),
    channels_by_rule: Object.fromEntries(
      Object.entries(p.channelsByRule).map(([rule, set]) => [rule, set.channels.map((c) => name(notificationsV1.channelToJSON(c), "CHANNEL_"))]),
    ),
  };
}

export function workView(w: ledgerV1.MeteredWork) {
  return {
    // Run and deployment ids are unique within an account.
    id: `${w.accountId}/${w.workId}`,
    work_id: w.workId,
    kind: w.kind,
    account_id: w.accountId,
    state: w.state,
    replicas: w.replicas,
    usage: w.usage ? pricingV1.Usage.toJSON(w.usage) : null,
    attribution: attributionView(w.attribution),
    charged_until: iso(w.chargedUntil),
    active_seconds: Number(w.activeSeconds),
    charged_micros: w.chargedMicros,
    stop_reason: w.stopReason,
    labels: w.labels,
    created_at: iso(w.createdAt),
    ended_at: iso(w.endedAt),
  };
}

/** A search hit: which field matched, the account, and the hold, entry or metered work found. */
export function searchHitView(hit: ledgerV1.SearchHit) {
  const match = ledgerV1.searchMatchToJSON(hit.match).slice("SEARCH_MATCH_".length).toLowerCase();
  const target = hit.target;
  const found =
    target?.$case === "hold"
      ? { kind: "hold", id: `hold:${target.hold.holdId}`, hold: holdView(target.hold) }
      : target?.$case === "entry"
        ? { kind: "entry", id: `entry:${target.entry.entryId}`, entry: entryView(target.entry) }
        : target?.$case === "work"
          ? { kind: target.work.kind === "deployment" ? "deployment" : "run", id: `work:${target.work.accountId}/${target.work.workId}`, work: workView(target.work) }
          : { kind: "call", id: `call:${hit.accountId}:${hit.operation}` };
  return { ...found, id: `${match}:${found.id}`, match, account_id: hit.accountId, operation: hit.operation };
}
