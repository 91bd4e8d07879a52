import { useEffect } from "react";
import { useQuery, type QueryKey } from "@tanstack/react-query";
import { useDataProvider, useInfiniteGetList, useNotify, usePermissions, useRedirect, useResourceContext, type RaRecord } from "react-admin";
import type { TollgateDataProvider } from "./data-provider";
import { recordLoadFailure } from "./http";

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

/** Rows a picker reads per request: the API's largest page. */
const PICKER_PAGE_SIZE = 500;

/**
 * Every record of a list, page after page, for a picker that offers them all
 * (the plans an account may move to, the versions of a rate table): a list
 * longer than one page is read to its end rather than cut at it.
 * `isPending` holds until the last page is in.
 */
export function useEveryRecord<T extends RaRecord>(resource: string, filter: Record<string, unknown>, enabled: boolean) {
  const list = useInfiniteGetList<T>(resource, { filter, pagination: { page: 1, perPage: PICKER_PAGE_SIZE } }, { enabled });
  const { hasNextPage, isFetchingNextPage, fetchNextPage, isError } = list;
  useEffect(() => {
    if (enabled && hasNextPage && !isFetchingNextPage && !isError) void fetchNextPage();
  }, [enabled, hasNextPage, isFetchingNextPage, isError, fetchNextPage]);
  return { data: list.data?.pages.flatMap((page) => page.data) ?? [], isPending: list.isPending || Boolean(hasNextPage) };
}

/**
 * A Show page's `queryOptions`: a record the gateway says does not exist goes
 * back to the list, as react-admin does; any other failure (a 500, the
 * gateway unreachable) is said as it is, with its trace id, and the page stays.
 */
export function useRecordLoadErrors() {
  const notify = useNotify();
  const redirect = useRedirect();
  const resource = useResourceContext();
  return {
    onError: (error: unknown) => {
      const failure = recordLoadFailure(error);
      notify(failure.message, { type: "error" });
      if (failure.notFound && resource) redirect("list", resource);
    },
  };
}
