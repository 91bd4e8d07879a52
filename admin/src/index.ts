/**
 * @tollgate/admin: the Tollgate support console as a react-admin plugin.
 *
 * A host back office combines `tollgateDataProvider` with its own provider
 * (react-admin's `combineDataProviders`, matching `isTollgateResource`) and
 * mounts the resource configs: `<Resource {...accounts} />`.
 */
export { tollgateDataProvider, isTollgateResource, RESOURCES, TOLLGATE_RESOURCE_NAMES, PageTokens } from "./data-provider";
export type { Keyed, TollgateDataProvider, TollgateDataProviderOptions, TollgateResource } from "./data-provider";
export { tollgateAuthProvider, readTokenClaims } from "./auth-provider";
export type { TollgateAuthProviderOptions } from "./auth-provider";
export { fetchHttpClient, HttpError, TOKEN_KEY, USER_KEY } from "./http";
export type { HttpClient, HttpRequest, HttpResponse } from "./http";
export { accounts, entries, search, holds, work, plans, rateTables, notifications, audit, receipts, tollgateResources } from "./resources";
export type { TollgateResourceConfig } from "./resources";
export { TollgateAdmin } from "./TollgateAdmin";
export type { TollgateAdminProps } from "./TollgateAdmin";
export { TollgateConfigProvider, useTollgateConfig } from "./config";
export type { TollgateConfig } from "./config";
export { TollgateLoginPage } from "./components/LoginPage";
export { SupportSearchBox, SearchPage, SEARCH_PATH, TollgateLayout } from "./search/SupportSearch";
export { EmptyState } from "./components/EmptyState";
export { formatAmount, unitLabel, checkHumanAmount } from "./money";
export type * from "./api-types";
