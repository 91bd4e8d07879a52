import Download from "@mui/icons-material/Download";
import { Button, Tooltip } from "@mui/material";
import { useState } from "react";
import { useListContext, useNotify } from "react-admin";
import { RESOURCES } from "../data-provider";
import { useTollgate } from "../hooks";
import { describeError } from "../http";

/**
 * Downloads the entries the list's filters show as CSV (the API's
 * `/api/entries.csv`: every page, newest first, up to 100,000 entries,
 * amounts exact in whole units and micro-units). The ledger lists one
 * account at a time, so it waits for an account id.
 */
export function ExportEntriesButton() {
  const { filter, filterValues } = useListContext();
  const provider = useTollgate();
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const shown = { ...filterValues, ...filter } as Record<string, unknown>;
  const download = async () => {
    setBusy(true);
    try {
      const { blob, filename } = await provider.exportEntries(RESOURCES.entries, { filter: shown });
      const href = URL.createObjectURL(blob);
      const link = Object.assign(document.createElement("a"), { href, download: filename });
      link.click();
      setTimeout(() => URL.revokeObjectURL(href), 10_000);
    } catch (error) {
      notify(describeError(error).message, { type: "error" });
    } finally {
      setBusy(false);
    }
  };
  const button = (
    <Button size="small" startIcon={<Download />} onClick={download} disabled={!shown.account_id || busy} data-testid="export-entries">
      Export CSV
    </Button>
  );
  return shown.account_id ? button : <Tooltip title="Enter an account id first"><span>{button}</span></Tooltip>;
}
