import SearchIcon from "@mui/icons-material/Search";
import { Alert, Box, Card, Chip, InputAdornment, LinearProgress, Link, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography } from "@mui/material";
import { useEffect, useState } from "react";
import { AppBar, Layout, LoadingIndicator, Link as RaLink, Title, useLocation, useNavigate, type LayoutProps } from "react-admin";
import type { SearchHit } from "../api-types";
import { Amount } from "../components/Amount";
import { EmptyState } from "../components/EmptyState";
import { TraceLink } from "../components/TraceLink";
import { RESOURCES } from "../data-provider";
import { HoldDialog } from "../entries/HoldDialog";
import { receiptPath } from "../receipts/ReceiptShow";
import { useTollgateQuery } from "../hooks";
import { describeError } from "../http";

/** The console route of search results (the search resource's list page). */
export const SEARCH_PATH = `/${RESOURCES.search}`;

const MATCH_LABELS: Record<string, string> = {
  hold_id: "hold id",
  entry_id: "entry id",
  idempotency_key: "idempotency key",
  trace_id: "trace id",
  conversation_id: "conversation",
  task_id: "task",
  work_id: "run / deployment id",
};

/**
 * One box for what a support ticket carries: a hold id, entry id, idempotency
 * key, trace id, conversation, task, run or deployment id. Enter opens the
 * results across every account.
 */
export function SupportSearchBox({ placement = "app-bar" }: { placement?: "app-bar" | "explorer" }) {
  const navigate = useNavigate();
  const location = useLocation();
  const current = location.pathname === SEARCH_PATH ? (new URLSearchParams(location.search).get("q") ?? "") : "";
  const [text, setText] = useState(current);
  useEffect(() => setText(current), [current]);
  const onAppBar = placement === "app-bar";
  return (
    <Box
      component="form"
      role="search"
      onSubmit={(e: React.FormEvent) => {
        e.preventDefault();
        if (text.trim()) navigate(`${SEARCH_PATH}?q=${encodeURIComponent(text.trim())}`);
      }}
      sx={onAppBar ? { mx: 2, width: { xs: 180, sm: 360 } } : { mb: 2, maxWidth: 560 }}
    >
      <TextField
        value={text}
        onChange={(e) => setText(e.target.value)}
        size="small"
        fullWidth
        placeholder="Hold, entry, idempotency key, trace, conversation, task, run…"
        aria-label="Search across accounts"
        slotProps={{
          htmlInput: { "data-testid": onAppBar ? "app-search" : "explorer-search" },
          input: {
            startAdornment: (
              <InputAdornment position="start">
                <SearchIcon fontSize="small" />
              </InputAdornment>
            ),
            sx: onAppBar ? { bgcolor: "rgba(255,255,255,0.15)", color: "inherit", "& input::placeholder": { color: "inherit", opacity: 0.8 } } : {},
          },
        }}
      />
    </Box>
  );
}

/** react-admin's layout with the search box in the app bar. */
export function TollgateLayout(props: LayoutProps) {
  return <Layout {...props} appBar={TollgateAppBar} />;
}

function TollgateAppBar() {
  return (
    <AppBar
      toolbar={
        <>
          <SupportSearchBox />
          <LoadingIndicator />
        </>
      }
    />
  );
}

function ReceiptLink({ id }: { id: string }) {
  return (
    <RaLink to={receiptPath(id)} data-testid="receipt-link">
      receipt
    </RaLink>
  );
}

function What({ hit, openHold }: { hit: SearchHit; openHold: (id: string) => void }) {
  if (hit.hold) {
    return (
      <>
        Hold{" "}
        <Link component="button" variant="body2" data-testid="hold-link" onClick={() => openHold(hit.hold!.id)}>
          {hit.hold.id}
        </Link>{" "}
        · <Amount micros={hit.hold.amount_micros} unit={hit.hold.unit} /> · {hit.hold.status} · <ReceiptLink id={hit.hold.id} />
      </>
    );
  }
  if (hit.entry) {
    const entry = hit.entry;
    return (
      <>
        Entry #{String(entry.id)} · {entry.kind} <Amount micros={entry.amount_micros} unit={entry.unit} exact />
        {(entry.kind === "charge" || entry.kind === "reverse") && (
          <>
            {" "}· <ReceiptLink id={String(entry.id)} />
          </>
        )}
        {entry.hold_id && (
          <>
            {" "}· hold{" "}
            <Link component="button" variant="body2" data-testid="hold-link" onClick={() => openHold(entry.hold_id)}>
              {entry.hold_id}
            </Link>
          </>
        )}
        {entry.trace_id && (
          <>
            {" "}· <TraceLink traceId={entry.trace_id} />
          </>
        )}
      </>
    );
  }
  if (hit.work) {
    return (
      <>
        {hit.kind === "deployment" ? "Deployment" : "Run"} {hit.work.work_id} · {hit.work.state} · charged <Amount micros={hit.work.charged_micros} unit="credits" />
      </>
    );
  }
  return <>A {hit.operation || "ledger"} call that made no hold or entry</>;
}

/** Search results across accounts (`/api/search`): what matched, on which account, and the hold, entry or work itself. */
export function SearchPage() {
  const location = useLocation();
  const q = (new URLSearchParams(location.search).get("q") ?? "").trim();
  const [holdId, setHoldId] = useState<string | null>(null);
  const query = useTollgateQuery(["search", q], (p, signal) => p.search(RESOURCES.entries, { q, signal }), Boolean(q));
  const hits = query.data?.data ?? [];
  return (
    <Box sx={{ mt: 2 }} data-testid="search-page">
      <Title title={q ? `Search: ${q}` : "Search"} />
      <SupportSearchBox placement="explorer" />
      <Card>
        {!q ? (
          <EmptyState title="Search across every account." hint="Paste a hold id, entry id, idempotency key, trace id, conversation, task, run or deployment id from a ticket." />
        ) : query.isPending ? (
          <LinearProgress />
        ) : query.isError ? (
          <Alert severity="error">{describeError(query.error).message}</Alert>
        ) : hits.length === 0 ? (
          <EmptyState title={`Nothing matches “${q}”.`} hint="Search looks for exact ids: a hold, entry, idempotency key, trace, conversation, task, run or deployment." />
        ) : (
          <Table size="small" data-testid="search-results">
            <TableHead>
              <TableRow>
                <TableCell>Matched</TableCell>
                <TableCell>Account</TableCell>
                <TableCell>What</TableCell>
                <TableCell>When</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {hits.map((hit) => (
                <TableRow key={hit.id} data-testid="search-hit">
                  <TableCell>
                    <Chip size="small" variant="outlined" label={MATCH_LABELS[hit.match] ?? hit.match} />
                  </TableCell>
                  <TableCell>
                    <RaLink to={`/${RESOURCES.accounts}/${encodeURIComponent(hit.account_id)}/show`}>{hit.account_id}</RaLink>
                  </TableCell>
                  <TableCell>
                    <What hit={hit} openHold={setHoldId} />
                  </TableCell>
                  <TableCell>
                    <Typography variant="body2">{when(hit.entry?.created_at ?? hit.hold?.created_at ?? hit.work?.created_at)}</Typography>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </Card>
      <HoldDialog holdId={holdId} onClose={() => setHoldId(null)} />
    </Box>
  );
}

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString("en-US") : "—");
