import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { TollgateAdmin } from "./TollgateAdmin";

/**
 * The standalone console. The gateway serves this page itself, so the API is
 * at the page's own origin unless `?api=http://127.0.0.1:8080` says otherwise;
 * `?trace=` sets the trace viewer's base URL.
 */
const params = new URLSearchParams(window.location.search);
const apiUrl = params.get("api") || window.location.origin;
const traceUrl = params.get("trace") || undefined;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <TollgateAdmin apiUrl={apiUrl} traceUrl={traceUrl} />
  </StrictMode>,
);
