/** The rows and records of the console gateway API (services/gateway/API.md), as the browser sees them. */
import type { Published } from "./publisher";

export type Role = "viewer" | "operator" | "admin";
export type StatusIcon = "green" | "yellow" | "red" | "warning";
export type PoolKind = "monthly" | "bonus" | "add_on" | "free_grant" | "spend_cap";
/** The journal's kinds of entry (ledger.proto `EntryKind`, as the API names them): the ledger explorer's kind filter offers each. */
export const ENTRY_KIND_NAMES = ["grant", "charge", "adjust", "expire", "reset", "reverse"] as const;
export type EntryKind = (typeof ENTRY_KIND_NAMES)[number];

export interface AccountRow {
  id: string;
  name: string;
  plan_id: string;
  plan_version: number | string;
  seats: number;
  status: string;
  deployment_mode: string;
  billing_mode: string;
  created_at: string | null;
}

export interface UnitBalance {
  unit: string;
  balance_micros: string;
  held_micros: string;
  available_micros: string;
  granted_micros: string;
  used_micros: string;
  status_icon: StatusIcon;
}

/** A cap on what one attribution scope of the account may spend, with what is used and held against it. */
export interface Budget {
  /** `<unit>/<scope>/<scope id>`. */
  id: string;
  unit: string;
  scope: BudgetScope;
  scope_id: string;
  limit_micros: string;
  mode: "soft" | "hard";
  per_cycle: boolean;
  threshold_percents: number[];
  used_micros: string;
  reserved_micros: string;
}

export type BudgetScope = "task" | "agent" | "user" | "workspace" | "workspace_group";

export interface PoolBalance {
  id: string;
  kind: PoolKind | string;
  unit: string;
  balance_micros: string;
  granted_micros: string;
  priority: number;
  expires_at: string | null;
}

export interface Cycle {
  cycle_start: string | null;
  cycle_end: string | null;
  days_elapsed: number;
  days_left: number;
  average_per_day_micros: string;
  projected_days_to_empty: number | null;
  will_run_out_before_cycle_end: boolean;
  /** When the balance runs out, when that is before the cycle ends (absent from older gateways). */
  run_out_at?: string | null;
}

export interface Banner {
  id: string;
  rule: string;
  kind: "fixed" | "dismissible";
  message: string;
  unit: string;
  threshold_percent: number;
  created_at: string | null;
}

/**
 * Limits for one unit, or (work_kind set) for one kind of work in that unit
 * (micro-units): a plan's, or an account's own overriding its plan's.
 */
export interface LimitOverride {
  unit: string;
  low_credit_limit_micros: string;
  negative_limit_micros: string;
  /** Empty: the unit's limits; else the kind of work ("guardrail", "custom_script"…). */
  work_kind?: string;
  /** At zero the kind's work may be saved as a draft only. */
  drafts_at_zero?: boolean;
  stop_message?: string;
}

export interface Account extends AccountRow {
  /** Per-unit overrides of the plan's low-credit and negative limits (`GET /api/accounts/:id`). */
  limit_overrides?: LimitOverride[] | null;
  /** The monthly spend cap of a `byom_usd` account, in USD micro-units ("0": no cap). */
  spend_cap_micros?: string | null;
  /** Who gets the account's alert emails when it names no recipients of its own. */
  admin_emails?: string[];
  plan?: Plan | null;
  balance?: { units: UnitBalance[]; pools: PoolBalance[]; cycle: Cycle | null; budgets?: Budget[] } | null;
  banners?: Banner[];
}

export interface Attribution {
  [dimension: string]: string | undefined;
}

export interface LedgerLine {
  ledger_account: string;
  pool_id: string;
  amount_micros: string;
}

export interface Entry {
  id: string;
  account_id: string;
  kind: EntryKind | string;
  hold_id: string;
  unit: string;
  bucket: string;
  amount_micros: string;
  uncollected_micros: string;
  attribution: Attribution;
  /** The rate table and its version (numbered per table) that priced the entry; empty and 0 when none did. */
  rate_table_id: string;
  rate_table_version: number | string;
  reason: string;
  /** The authenticated principal that made the entry. */
  actor: string;
  /** The person it acted for (a console user), when a service made it. */
  on_behalf_of?: string;
  trace_id: string;
  /** When the entry was written. */
  created_at: string | null;
  /** When its usage happened: created_at, unless the usage was reported late (`occurred_at` on the charge). */
  occurred_at?: string | null;
  lines: LedgerLine[];
  /** A reverse entry: the charge it returned. */
  reverses_entry_id?: string | null;
  /** A charge that was reversed: the reverse entry that returned it. */
  reversed_by_entry_id?: string | null;
}

export type HoldStatus = "open" | "charged" | "released" | "expired";

/** A row of `/api/holds`. */
export interface HoldRow {
  id: string;
  account_id: string;
  unit: string;
  amount_micros: string;
  charged_micros: string;
  status: HoldStatus | string;
  expires_at: string | null;
  created_at: string | null;
  attribution: Attribution;
  rate_table_id: string;
  rate_table_version: number | string;
}

/** `GET /api/holds/:id`: the row plus its newest ledger entries (`entries_more`: there are earlier ones, not shown). */
export interface Hold extends HoldRow {
  entries: Entry[];
  entries_more?: boolean;
}

export type WorkKind = "run" | "deployment";
export type WorkState = "running" | "paused" | "finished" | "failed" | "cancelled" | "stopped" | "undeployed";

/** A row of `/api/work`: a run or a deployment, charged while active. */
export interface WorkRow {
  /** `<account_id>/<work_id>`: run and deployment ids are unique within an account. */
  id: string;
  work_id: string;
  kind: WorkKind | string;
  account_id: string;
  state: WorkState | string;
  /** Deployments only. */
  replicas: number | null;
  usage: Record<string, unknown>;
  attribution: Attribution;
  charged_until: string | null;
  active_seconds: number | string;
  /** Micro-credits (the row names no unit). */
  charged_micros: string;
  stop_reason: string;
  /** Descriptive labels from the caller (e.g. `language` of a script, `type` of a model); may be absent. */
  labels?: Record<string, string>;
  created_at: string | null;
  ended_at: string | null;
}

export interface TopRow {
  id: string;
  key: string;
  amount_micros: string;
  requests: number | string;
  share_basis_points: number;
}

export interface TopPage {
  data: TopRow[];
  next_page_token: string;
  total_micros: string;
}

export interface UsagePoint {
  start: string;
  key: string;
  amount_micros: string;
  requests: number | string;
}

export interface Plan extends Published {
  /** The console's id: `${plan_id}@${version}` (the API's `id` is the version alone). */
  id: string;
  plan_id: string;
  version: number | string;
  name: string;
  tier: string;
  rate_table_id: string;
  allotments: { unit: string; amount_micros: string }[];
  /** The plan's limits: per unit, and per kind of work in a unit. */
  limits?: LimitOverride[];
  thresholds: Record<string, unknown>;
  published_at: string | null;
  document: unknown;
}

export interface RateTable extends Published {
  /** `${table_id}@${version}`: versions are numbered per table, from 1. */
  id: string;
  table_id: string;
  version: number | string;
  /** Publication order across every table. */
  sequence?: number | string;
  effective_from: string | null;
  published_at: string | null;
  rates: Record<string, unknown>[];
}

export interface RateChange {
  key: string;
  before: unknown;
  after: unknown;
}

export interface NotificationRow {
  id: string;
  account_id: string;
  channel: string;
  /** An email address, or a webhook's origin (its path elided). */
  recipient: string;
  rule: string;
  status: string;
  attempts: number;
  last_error: string;
  trace_id: string;
  created_at: string | null;
  delivered_at: string | null;
}

export interface AuditRow {
  id: string;
  /** `console`: an action taken here; `grpc`: an admin or refused call recorded by a service. */
  source: "console" | "grpc";
  /** The principal (or `address:<peer>` for a call without a credential). */
  actor: string;
  on_behalf_of: string | null;
  role: Role | string;
  action: string;
  target: string;
  reason: string;
  before: unknown;
  after: unknown;
  trace_id: string;
  /** `OK`, or the gRPC status of a failed or refused call. */
  outcome: string;
  /** Refused calls this row stands for (one row per caller, RPC and minute). */
  count: number;
  created_at: string | null;
}

/** `POST /api/accounts/:id/limits`: human amounts (≥ 0, "0" allowed) in `unit`. */
export interface SetAccountLimitsBody {
  unit: string;
  /** Empty or absent: the unit's limits; else the kind of work they are for. */
  work_kind?: string;
  low_credit_limit: string;
  negative_limit: string;
  /** A kind's only (false when absent): the override replaces the kind's whole row, so send what should stay. */
  drafts_at_zero?: boolean;
  /** A kind's only ("" when absent: the platform's message). */
  stop_message?: string;
  reason: string;
}

/** `POST /api/accounts/:id/spend-cap`: the monthly cap in USD as a human amount ("0" removes the cap). */
export interface SetSpendCapBody {
  amount: string;
  reason: string;
}

/** `POST /api/accounts/:id/budgets`: sets (or changes) the budget of one scope; the limit as a human amount. */
export interface SetBudgetBody {
  unit: string;
  scope: BudgetScope;
  scope_id: string;
  limit: string;
  mode: "soft" | "hard";
  per_cycle: boolean;
  /** Percents of the limit that warn; empty or absent: 80 and 100 for a soft budget, none for a hard one. */
  threshold_percents?: number[];
  reason: string;
}

/** The answer of the account actions that change the account row (status, plan, limits, spend cap). */
export interface AccountActionAnswer {
  account: Account;
  audit_id: string;
}

/** The body of every error answer. */
export interface ApiErrorBody {
  error: { status: number; code: string; message: string; field?: string; reason?: string };
}

export type UsageWindow = "24h" | "7d" | "30d";

export type TopDimension =
  | "work_kind"
  | "workspace_id"
  | "workspace_group_id"
  | "user_id"
  | "model"
  | "agent_id"
  | "tool"
  | "block"
  | "deployment_id"
  | "conversation_id"
  | "task_id"
  | "surface"
  | "bucket";

/** Which field of a search hit matched the query. */
export type SearchMatch = "hold_id" | "entry_id" | "idempotency_key" | "trace_id" | "conversation_id" | "task_id" | "work_id";

/** A row of `/api/search`: the account and the hold, entry, run or deployment found. */
export interface SearchHit {
  id: string;
  match: SearchMatch | string;
  account_id: string;
  kind: "hold" | "entry" | "run" | "deployment" | "call" | string;
  /** For an idempotency key: the call it was used for (e.g. `charge`, `start_run`). */
  operation?: string;
  hold?: HoldRow;
  entry?: Entry;
  work?: WorkRow;
}

/** A line of a receipt: a rate of the version that priced the charge; `quantity` null when the recorded amount does not tell it. */
export interface ReceiptLineItem {
  bucket: string;
  unit: string;
  description: string;
  rate_micros: string;
  rate_per: string;
  quantity: string | null;
  /** "0" when the charge spans several lines whose split is not recorded. */
  amount_micros: string;
}

export interface ReceiptEvent {
  sequence: string;
  kind: string;
  occurred_at: string | null;
  details: Record<string, unknown>;
}

/** `GET /api/receipts/:id`: the cost receipt of a charge entry or a hold. */
export interface Receipt {
  id: string;
  account_id: string;
  unit: string;
  bucket: string;
  hold: HoldRow | null;
  charges: Entry[];
  asked_micros: string;
  charged_micros: string;
  uncollected_micros: string;
  rate_table_id: string;
  rate_table_version: string;
  line_items: ReceiptLineItem[];
  pools: { pool_id: string; kind: string; drawn_micros: string }[];
  balance_before_micros: string;
  balance_after_micros: string;
  idempotency_key: string;
  operation: string;
  actor: string;
  on_behalf_of: string;
  trace_id: string;
  events: ReceiptEvent[];
  notifications: NotificationRow[];
}

/** One member's (or the team's) usage of the cycle in seed 000's three buckets. */
export interface MemberUsageAmounts {
  ai_micros: string;
  compute_micros: string;
  platform_micros: string;
  total_micros: string;
}

/** `GET /api/accounts/:id/member-usage`. */
export interface MemberUsage {
  unit: string;
  since: string | null;
  team: MemberUsageAmounts;
  data: (MemberUsageAmounts & { id: string; user_id: string })[];
}

export type ToolStatus = "deployed" | "undeployed" | "deleted";

/** A row of `GET /api/accounts/:id/tools`: a tool deployed at least once. */
export interface ToolRow {
  id: string;
  owner: string;
  status: ToolStatus | string;
  runs: string;
  used_micros: string;
  unit: string;
  last_active_at: string | null;
  first_deployed_at: string | null;
}

export interface ToolsPage {
  data: ToolRow[];
  next_page_token: string;
  total_tools: string;
  total_runs: string;
}

/** `GET /api/accounts/:id/preferences`: where the account's alerts go. */
export interface AlertPreferences {
  account_id: string;
  /** Empty: the account's admins (`admin_emails`). */
  email_recipients: string[];
  /** Each webhook by its origin (its path elided: it may be the credential), and its secret's fingerprint. */
  webhooks: { url: string; secret_fingerprint: string }[];
  /** rule → channels ("email", "webhook", "banner"); a rule not listed uses its defaults. */
  channels_by_rule: Record<string, string[]>;
}
