import { useQuery, type QueryKey } from "@tanstack/react-query";
import { useDataProvider, usePermissions } from "react-admin";
import type { TollgateDataProvider } from "./data-provider";

/** The data provider with the plugin's custom methods (works through a host's combineDataProviders). */
export const useTollgate = () => useDataProvider<TollgateDataProvider>();

/** What the signed-in role may do. Unknown permissions (e.g. a host's own shape) allow nothing but reading. */
export function useRole() {
  const { permissions, isPending } = usePermissions<unknown>();
  const role = typeof permissions === "string" ? permissions : ((permissions as { role?: string } | undefined)?.role ?? null);
  return {
    role,
    isPending,
    canOperate: role === "operator" || role === "admin",
    canAdmin: role === "admin",
  };
}

/**
 * A query against one of the custom data-provider methods, cached by
 * react-query with react-admin's own client, so `useRefresh()` refetches it.
 */
export function useTollgateQuery<T>(key: QueryKey, run: (provider: TollgateDataProvider, signal: AbortSignal) => Promise<T>, enabled = true) {
  const provider = useTollgate();
  return useQuery({ queryKey: ["tollgate", ...key], queryFn: ({ signal }) => run(provider, signal), enabled });
}
