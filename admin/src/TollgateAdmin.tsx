import { useMemo } from "react";
import { QueryClient } from "@tanstack/react-query";
import { Admin, Resource } from "react-admin";
import { tollgateAuthProvider } from "./auth-provider";
import { TollgateLoginPage } from "./components/LoginPage";
import { TollgateConfigProvider } from "./config";
import { tollgateDataProvider, type TollgateDataProviderOptions } from "./data-provider";
import { tollgateResources } from "./resources";
import { TollgateLayout } from "./search/SupportSearch";

export interface TollgateAdminProps extends TollgateDataProviderOptions {
  /** Trace viewer base URL; trace ids link to `${traceUrl}/trace/<id>`. */
  traceUrl?: string;
  title?: string;
}

/**
 * Queries retry once, and only on server or network errors: a missing login
 * (or any 4xx) answers at once instead of after react-query's default three
 * retries with backoff.
 */
export function consoleQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (failures, error) => {
          const status = (error as { status?: number } | null)?.status;
          return failures < 1 && (status === undefined || status >= 500) && !/sign in/i.test(String((error as Error)?.message));
        },
      },
    },
  });
}

/**
 * A ready `<Admin>` with every Tollgate resource: the standalone console.
 * Each resource page checks the login itself (react-admin does for pages
 * under an authProvider); `requireAuth` on `<Admin>` is not used because it
 * kept the first paint blank for 11–15 s here.
 */
export function TollgateAdmin({ apiUrl, httpClient, getToken, traceUrl, title = "Tollgate support" }: TollgateAdminProps) {
  const dataProvider = useMemo(() => tollgateDataProvider({ apiUrl, httpClient, getToken }), [apiUrl, httpClient, getToken]);
  const authProvider = useMemo(() => tollgateAuthProvider({ apiUrl, httpClient }), [apiUrl, httpClient]);
  const queryClient = useMemo(() => consoleQueryClient(), []);
  return (
    <TollgateConfigProvider traceUrl={traceUrl}>
      <Admin dataProvider={dataProvider} authProvider={authProvider} queryClient={queryClient} loginPage={TollgateLoginPage} title={title} layout={TollgateLayout} disableTelemetry>
        {tollgateResources.map((resource) => (
          <Resource key={resource.name} {...resource} />
        ))}
      </Admin>
    </TollgateConfigProvider>
  );
}
