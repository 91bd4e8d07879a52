import AccountBalanceWallet from "@mui/icons-material/AccountBalanceWallet";
import History from "@mui/icons-material/History";
import HourglassTop from "@mui/icons-material/HourglassTop";
import ListAlt from "@mui/icons-material/ListAlt";
import NotificationsActive from "@mui/icons-material/NotificationsActive";
import PriceChange from "@mui/icons-material/PriceChange";
import ReceiptLong from "@mui/icons-material/ReceiptLong";
import RocketLaunch from "@mui/icons-material/RocketLaunch";
import Receipt from "@mui/icons-material/Receipt";
import Search from "@mui/icons-material/Search";
import type { ComponentType } from "react";
import { AccountList } from "./accounts/AccountList";
import { AccountShow } from "./accounts/AccountShow";
import { AuditList } from "./audit/AuditList";
import { RESOURCES } from "./data-provider";
import { EntryList } from "./entries/EntryList";
import { HoldList } from "./holds/HoldList";
import { NotificationList } from "./notifications/NotificationList";
import { PlanList } from "./plans/PlanList";
import { PlanShow } from "./plans/PlanShow";
import { RateTableList } from "./rate-tables/RateTableList";
import { RateTableShow } from "./rate-tables/RateTableShow";
import { ReceiptShow } from "./receipts/ReceiptShow";
import { SearchPage } from "./search/SupportSearch";
import { WorkList } from "./work/WorkList";

/** What a host spreads into `<Resource {...accounts} />`. */
export interface TollgateResourceConfig {
  name: string;
  /** Unset for a resource reached only by links (receipts): it has no menu entry. */
  list?: ComponentType;
  show?: ComponentType;
  icon: ComponentType;
  options: { label: string };
  recordRepresentation?: string;
}

export const accounts: TollgateResourceConfig = {
  name: RESOURCES.accounts,
  list: AccountList,
  show: AccountShow,
  icon: AccountBalanceWallet,
  options: { label: "Accounts" },
  recordRepresentation: "name",
};

export const entries: TollgateResourceConfig = {
  name: RESOURCES.entries,
  list: EntryList,
  icon: ReceiptLong,
  options: { label: "Ledger" },
};

export const plans: TollgateResourceConfig = {
  name: RESOURCES.plans,
  list: PlanList,
  show: PlanShow,
  icon: ListAlt,
  options: { label: "Plans" },
  recordRepresentation: "name",
};

export const rateTables: TollgateResourceConfig = {
  name: RESOURCES.rateTables,
  list: RateTableList,
  show: RateTableShow,
  icon: PriceChange,
  options: { label: "Rate tables" },
};

export const notifications: TollgateResourceConfig = {
  name: RESOURCES.notifications,
  list: NotificationList,
  icon: NotificationsActive,
  options: { label: "Notifications" },
};

export const audit: TollgateResourceConfig = {
  name: RESOURCES.audit,
  list: AuditList,
  icon: History,
  options: { label: "Audit log" },
};

/** Holds in flight (open by default); a hold id opens the hold's life. */
export const holds: TollgateResourceConfig = {
  name: RESOURCES.holds,
  list: HoldList,
  icon: HourglassTop,
  options: { label: "Holds" },
};

/** Runs and deployments being charged while active (running by default). */
export const work: TollgateResourceConfig = {
  name: RESOURCES.work,
  list: WorkList,
  icon: RocketLaunch,
  options: { label: "Runs & deployments" },
};

/** Search across accounts by a hold, entry, idempotency key, trace, conversation, task, run or deployment id. */
export const search: TollgateResourceConfig = {
  name: RESOURCES.search,
  list: SearchPage,
  icon: Search,
  options: { label: "Search" },
};

/** The cost receipt of a charge or a hold, opened from the ledger, an account's ledger tab and search results. */
export const receipts: TollgateResourceConfig = {
  name: RESOURCES.receipts,
  show: ReceiptShow,
  icon: Receipt,
  options: { label: "Receipts" },
};

/** Every resource of the plugin, in menu order (receipts have no list, so no menu entry). */
export const tollgateResources = [accounts, entries, search, holds, work, plans, rateTables, notifications, audit, receipts] as const;
