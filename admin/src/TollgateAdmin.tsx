import { useMemo } from "react";
import { Admin, Resource } from "react-admin";
import { tollgateAuthProvider } from "./auth-provider";
import { TollgateLoginPage } from "./components/LoginPage";
import { TollgateConfigProvider } from "./config";
import { tollgateDataProvider, type TollgateDataProviderOptions } from "./data-provider";
import { tollgateResources } from "./resources";

export interface TollgateAdminProps extends TollgateDataProviderOptions {
  /** Trace viewer base URL; trace ids link to `${traceUrl}/trace/<id>`. */
  traceUrl?: string;
  title?: string;
}

/** A ready `<Admin>` with every Tollgate resource: the standalone console. */
export function TollgateAdmin({ apiUrl, httpClient, getToken, traceUrl, title = "Tollgate support" }: TollgateAdminProps) {
  const dataProvider = useMemo(() => tollgateDataProvider({ apiUrl, httpClient, getToken }), [apiUrl, httpClient, getToken]);
  const authProvider = useMemo(() => tollgateAuthProvider({ apiUrl, httpClient }), [apiUrl, httpClient]);
  return (
    <TollgateConfigProvider traceUrl={traceUrl}>
      <Admin dataProvider={dataProvider} authProvider={authProvider} loginPage={TollgateLoginPage} title={title} requireAuth disableTelemetry>
        {tollgateResources.map((resource) => (
          <Resource key={resource.name} {...resource} />
        ))}
      </Admin>
    </TollgateConfigProvider>
  );
}
