/**
 * A "host back office": an existing react-admin app with its own resource
 * (`customers`, served by an in-memory provider) that mounts the Tollgate
 * plugin's `accounts` and `audit` resources beside it.
 */
import People from "@mui/icons-material/People";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Admin, combineDataProviders, Resource } from "react-admin";
import { accounts, audit, isTollgateResource, TollgateConfigProvider, TollgateLoginPage, tollgateAuthProvider, tollgateDataProvider } from "./index";
import { CustomerEdit, CustomerList } from "./host/customers";
import { inMemoryProvider } from "./host/customers-provider";

const params = new URLSearchParams(window.location.search);
const apiUrl = params.get("api") || window.location.origin;
const traceUrl = params.get("trace") || undefined;

const hostProvider = inMemoryProvider();
const tollgate = tollgateDataProvider({ apiUrl });

// Every `tollgate-*` resource goes to the plugin's provider, everything else to the host's.
const dataProvider = combineDataProviders((resource) => (isTollgateResource(resource) ? tollgate : hostProvider));

// The plugin's resources need a gateway token; this host signs in through the gateway.
// A host with its own login would instead mint a token and pass `getToken` to tollgateDataProvider.
const authProvider = tollgateAuthProvider({ apiUrl });

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <TollgateConfigProvider traceUrl={traceUrl}>
      <Admin dataProvider={dataProvider} authProvider={authProvider} loginPage={TollgateLoginPage} title="Acme back office" disableTelemetry>
        <Resource name="customers" list={CustomerList} edit={CustomerEdit} icon={People} options={{ label: "Customers" }} />
        <Resource {...accounts} />
        <Resource {...audit} />
      </Admin>
    </TollgateConfigProvider>
  </StrictMode>,
);
