/**
 * The bounds and formats of every request field, in one table, enforced once
 * per message before any handler runs (see validation.ts). The proto field
 * comments state the same bounds for callers; keep the two in step.
 *
 * Keys are `package.Message.field`, or `*.field` for a field of that name in
 * any message (an exact key wins). A field without an entry gets the
 * defaults: strings at most DEFAULT_MAX_LENGTH characters, lists and maps at
 * most DEFAULT_MAX_ITEMS entries. For every field, whatever its rule: no NUL
 * character in a string (invalid UTF-8 is refused while decoding), enum
 * values among the declared ones, timestamps within TIMESTAMP_RANGE.
 *
 * (Why not buf.validate options: protovalidate needs the buf/validate proto
 * module from the Buf registry and validates protobuf-es messages, while the
 * services use ts-proto's; a table keyed by the descriptor's names, checked
 * against the committed descriptor set by a test, gives the same single place.)
 */
export interface FieldRule {
  /** Strings (and each string of a list): at most this many characters. */
  maxLength?: number;
  /** Strings (and each string of a list): at least this many characters (1: not empty). */
  minLength?: number;
  /** Lists and maps: at most this many entries. */
  maxItems?: number;
  /** Integers (int32 and int64): inclusive bounds. */
  min?: bigint;
  max?: bigint;
  /** A non-empty string must have this shape (email: one plain address; validation.ts says which). */
  format?: "uuid" | "digits" | "email" | "http_url" | "prose" | "name";
}

export const DEFAULT_MAX_LENGTH = 256;
export const DEFAULT_MAX_ITEMS = 100;
/** Timestamps a request may carry: from 1970-01-01 up to (not including) 2200-01-01 UTC. */
export const TIMESTAMP_RANGE = { from: new Date("1970-01-01T00:00:00Z"), to: new Date("2200-01-01T00:00:00Z") };

/** ±10^15 micro-units (a thousand million credits or dollars): any amount a request may name. */
const AMOUNT = { min: -(10n ** 15n), max: 10n ** 15n };
/** A usage quantity (replies, tokens, seconds, runs, epochs, replicas, cores): 0 to 10^12. */
const QUANTITY = { min: 0n, max: 10n ** 12n };
/** A rate: 0 to 10^15 micro-units per its unit. */
const RATE = { min: 0n, max: 10n ** 15n };
/** A name callers choose: no control or bidirectional characters (it is shown, logged and put in messages as written). */
const ID = { maxLength: 128, format: "name" as const };
/** A name shown as written (a model, a plan's name): any length up to the default, no control or bidirectional characters. */
const NAME = { format: "name" as const };
const TEXT = { maxLength: 1024 };
const UUID = { format: "uuid" as const };
const CURSOR = { min: 0n };
/** A page token: room for a newest-first cursor, which names a row's account and id (each up to 128 characters, JSON-escaped, base64url). */
const PAGE_TOKEN = { maxLength: 4096 };

export const FIELD_RULES: Record<string, FieldRule> = {
  // Identifiers chosen by callers.
  "*.account_id": ID,
  "*.plan_id": ID,
  // A new table's id, and the one a plan names, are narrowed further by their services (1–64 lowercase letters, digits, -
  // and _: @tollgate/rating's checkTableId), in one place.
  "*.table_id": ID,
  "tollgate.pricing.v1.DiffRateTablesRequest.table_id": { ...ID, minLength: 1 },
  "*.run_id": ID,
  "*.deployment_id": ID,
  "*.work_id": ID,
  "*.subject_id": ID,
  "*.parent_id": ID,
  "*.idempotency_key": ID,
  "*.actor": ID,
  "tollgate.ledger.v1.SetToolRequest.tool": ID,
  "tollgate.ledger.v1.SetToolRequest.owner": ID,
  "tollgate.notifications.v1.ListNotificationsRequest.trace_id": ID,
  // Names a rate table prices by, shown in the console and on receipts as written. (Usage and attribution in metering
  // calls are not bound here: a name a rate table refuses is simply not priced, and a charge must not fail on one.)
  "tollgate.pricing.v1.ModelReplyRate.model": NAME,
  "tollgate.pricing.v1.ModelTokenRate.model": NAME,
  "tollgate.pricing.v1.BlockRate.block": NAME,
  "tollgate.pricing.v1.BlockRate.configuration_key": NAME,
  "tollgate.pricing.v1.GpuHourRate.gpu_type": NAME,
  "tollgate.pricing.v1.CpuCoreHourRate.cpu_type": NAME,
  "tollgate.pricing.v1.HardwareProfileHourRate.profile": NAME,
  "tollgate.pricing.v1.FineTuningRate.size_class": NAME,
  "tollgate.pricing.v1.FineTuningRate.hardware": NAME,
  "tollgate.pricing.v1.ToolRunRate.tool": NAME,
  "tollgate.entitlements.v1.Plan.name": NAME,
  "tollgate.entitlements.v1.CreateAccountRequest.name": NAME,
  "tollgate.entitlements.v1.Subject.name": NAME,
  "tollgate.entitlements.v1.Plan.tier": NAME,
  // Identifiers the platform made: UUIDs.
  "tollgate.ledger.v1.ChargeRequest.hold_id": UUID,
  "tollgate.ledger.v1.ReleaseRequest.hold_id": UUID,
  "tollgate.ledger.v1.ExtendHoldRequest.hold_id": UUID,
  "tollgate.ledger.v1.GetHoldRequest.hold_id": UUID,
  "tollgate.ledger.v1.ListEntriesRequest.hold_id": UUID,
  "tollgate.ledger.v1.AdjustRequest.pool_id": UUID,
  "tollgate.ledger.v1.GetReceiptRequest.hold_id": UUID,
  "tollgate.notifications.v1.DismissBannerRequest.banner_id": UUID,
  "tollgate.notifications.v1.ResendNotificationRequest.notification_id": UUID,
  // Free text.
  "*.reason": { ...TEXT, format: "prose" },
  "tollgate.entitlements.v1.UsageLimits.stop_message": { ...TEXT, format: "prose" },
  "*.scope_id": NAME,
  // Put in the account admins' deployment email as a link: a URL and nothing else (no text, no user name or password).
  "tollgate.ledger.v1.DeployRequest.endpoint": { maxLength: 2048, format: "http_url" },
  "tollgate.notifications.v1.WebhookEndpoint.url": { maxLength: 2048 },
  "*.email": { maxLength: 320, format: "email" },
  "*.admin_emails": { minLength: 1, maxLength: 320, maxItems: 20, format: "email" },
  "tollgate.notifications.v1.Preferences.email_recipients": { minLength: 1, maxLength: 320, maxItems: 20, format: "email" },
  "tollgate.notifications.v1.Preferences.webhooks": { maxItems: 10 },
  "tollgate.notifications.v1.SetPreferencesRequest.update_fields": { maxItems: 3, maxLength: 32 },
  // Paging: a page token is a cursor this service handed out (digits for offsets and versions, else opaque).
  "tollgate.common.v1.PageRequest.page_size": { min: 0n, max: 500n },
  "tollgate.common.v1.PageRequest.page_token": PAGE_TOKEN,
  "*.after_version": CURSOR,
  "*.after_revision": CURSOR,
  "*.after_sequence": CURSOR,
  "tollgate.ledger.v1.GetReceiptRequest.entry_id": CURSOR,
  "tollgate.ledger.v1.AcknowledgeEventsRequest.through_sequence": CURSOR,
  "tollgate.ledger.v1.AcknowledgeEventsRequest.consumer": ID,
  // Versions: 0 means the latest (or the one in effect); a named version is positive.
  "*.version": { min: 0n },
  "tollgate.pricing.v1.DiffRateTablesRequest.from_version": { min: 1n },
  "tollgate.pricing.v1.DiffRateTablesRequest.to_version": { min: 1n },
  "tollgate.pricing.v1.GetRateTableRequest.sequence": { min: 0n },
  // Lists and maps.
  "tollgate.pricing.v1.PublishRateTableRequest.rates": { maxItems: 2_000 },
  "tollgate.pricing.v1.BlockRate.micros_per_run_by_value": { maxItems: 100 },
  "tollgate.pricing.v1.BlockRunUsage.configuration": { maxItems: 20 },
  "*.labels": { maxItems: 20 },
  "tollgate.ledger.v1.ListEntriesRequest.attribution": { maxItems: 11 },
  "tollgate.ledger.v1.SetBudgetRequest.threshold_percents": { maxItems: 10, min: 1n, max: 1_000n },
  // Money and quantities.
  "*.amount_micros": AMOUNT,
  "*.spend_cap_micros": { min: 0n, max: AMOUNT.max },
  "tollgate.ledger.v1.SetBudgetRequest.limit_micros": { min: 0n, max: AMOUNT.max },
  // "<unit>/<scope>/<scope_id>": a scope id is at most DEFAULT_MAX_LENGTH characters.
  "tollgate.ledger.v1.DeleteBudgetRequest.budget_id": { maxLength: 512, format: "name" },
  "*.low_credit_limit_micros": AMOUNT,
  "*.negative_limit_micros": AMOUNT,
  "*.reload_below_micros": { min: 0n, max: AMOUNT.max },
  "*.reload_to_micros": { min: 0n, max: AMOUNT.max },
  "*.reload_cooldown_ms": { min: 0n, max: 366n * 86_400_000n },
  // A hold lives at most a day (the ledger's MAX_HOLD_TTL_MS).
  "tollgate.ledger.v1.AuthorizeRequest.ttl_ms": { min: 0n, max: 86_400_000n },
  "tollgate.ledger.v1.ExtendHoldRequest.ttl_ms": { min: 0n, max: 86_400_000n },
  "tollgate.ledger.v1.ReverseChargeRequest.entry_id": { min: 1n, max: 9_223_372_036_854_775_807n },
  "tollgate.ledger.v1.MeterOpen.ttl_ms": { min: 0n, max: 86_400_000n },
  "tollgate.ledger.v1.MeterIncrement.sequence": { min: 1n, max: 10n ** 12n },
  "*.seats": { min: 0n, max: 1_000_000n },
  "*.replicas": { min: 0n, max: 10_000n },
  "*.priority": { min: -1_000_000n, max: 1_000_000n },
  "*.expires_after_days": { min: 0n, max: 3_660n },
  "*.vcpus": { min: 0n, max: 1_000_000n },
  "*.memory_mib": { min: 0n, max: 1_000_000_000n },
  "*.banner_percents": { min: 0n, max: 1_000n },
  "*.email_percents": { min: 0n, max: 1_000n },
  "*.upgrade_prompt_percent": { min: 0n, max: 1_000n },
  "*.referral_prompt_percent": { min: 0n, max: 1_000n },
  "*.max_seats": { min: 0n, max: 1_000_000n },
  "*.replies": QUANTITY,
  "*.input_tokens": QUANTITY,
  "*.output_tokens": QUANTITY,
  "*.cache_read_tokens": QUANTITY,
  "*.cache_write_tokens": QUANTITY,
  "*.training_tokens": QUANTITY,
  "*.epochs": QUANTITY,
  "*.runs": QUANTITY,
  "*.seconds": QUANTITY,
  "*.cores": QUANTITY,
  "*.micros_per_reply": RATE,
  "*.input_micros_per_million": RATE,
  "*.output_micros_per_million": RATE,
  "*.cache_read_micros_per_million": RATE,
  "*.cache_write_micros_per_million": RATE,
  "*.input_usd_micros_per_million": RATE,
  "*.output_usd_micros_per_million": RATE,
  "*.cache_read_usd_micros_per_million": RATE,
  "*.cache_write_usd_micros_per_million": RATE,
  "*.micros_per_run": RATE,
  "*.micros_per_replica_hour": RATE,
  "*.micros_per_core_hour": RATE,
  "*.micros_per_hour": RATE,
  "*.micros_per_million_training_tokens_per_epoch": RATE,
  "*.micros_per_minute": RATE,
};

export function ruleOf(message: string, field: string): FieldRule {
  return FIELD_RULES[`${message}.${field}`] ?? FIELD_RULES[`*.${field}`] ?? {};
}
