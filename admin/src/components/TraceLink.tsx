import { Link, Typography } from "@mui/material";
import { useTollgateConfig } from "../config";

/** A trace id: a link to `${traceUrl}/trace/<id>` when a trace viewer is configured, else the id itself. */
export function TraceLink({ traceId }: { traceId?: string | null }) {
  const { traceUrl } = useTollgateConfig();
  if (!traceId) return <Typography variant="body2" color="text.secondary">—</Typography>;
  const short = traceId.length > 12 ? `${traceId.slice(0, 12)}…` : traceId;
  if (!traceUrl) {
    return (
      <Typography variant="body2" sx={{ fontFamily: "monospace" }} title={traceId}>
        {short}
      </Typography>
    );
  }
  return (
    <Link
      href={`${traceUrl.replace(/\/+$/, "")}/trace/${encodeURIComponent(traceId)}`}
      target="_blank"
      rel="noreferrer"
      title={traceId}
      data-testid="trace-link"
      sx={{ fontFamily: "monospace" }}
      onClick={(e) => e.stopPropagation()}
    >
      {short}
    </Link>
  );
}
