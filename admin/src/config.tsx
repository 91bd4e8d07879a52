import { createContext, useContext, type ReactNode } from "react";

export interface TollgateConfig {
  /** Trace viewer base URL; trace ids link to `${traceUrl}/trace/<id>` when set. */
  traceUrl?: string;
}

const TollgateConfigContext = createContext<TollgateConfig>({});

/** Wrap a host's `<Admin>` (or any part of it) to configure the plugin's pages. */
export function TollgateConfigProvider({ children, ...config }: TollgateConfig & { children: ReactNode }) {
  return <TollgateConfigContext.Provider value={config}>{children}</TollgateConfigContext.Provider>;
}

export const useTollgateConfig = () => useContext(TollgateConfigContext);
