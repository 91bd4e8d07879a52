import { Link } from "react-admin";
import { RESOURCES, versionId } from "../data-provider";

/** "default v2", linking to that rate table version; "—" when nothing priced it. */
export function RateTableRef({ tableId, version }: { tableId?: string; version?: number | string }) {
  if (!tableId || !version || String(version) === "0") return <>—</>;
  return (
    <Link to={`/${RESOURCES.rateTables}/${encodeURIComponent(versionId(tableId, version))}/show`} onClick={(e: React.MouseEvent) => e.stopPropagation()} data-testid="rate-table-ref">
      {tableId} v{String(version)}
    </Link>
  );
}
