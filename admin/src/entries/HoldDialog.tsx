import { Alert, Box, Button, Dialog, DialogActions, DialogContent, DialogTitle, LinearProgress, Stack, Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";
import { useGetOne } from "react-admin";
import type { Entry, Hold } from "../api-types";
import { Amount } from "../components/Amount";
import { RateTableRef } from "../components/RateTableRef";
import { TraceLink } from "../components/TraceLink";
import { RESOURCES } from "../data-provider";
import { describeError } from "../http";
import { formatAmount, toMicros } from "../money";
import { Attribution } from "./EntriesTable";

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString("en-US") : "—");

/** The hold's life as steps: authorized, each charge, then how it ended (charged, released, expired, still open). */
export function holdSteps(hold: Hold): { label: string; micros: string | null; at: string | null; entry?: Entry }[] {
  const steps: { label: string; micros: string | null; at: string | null; entry?: Entry }[] = [
    { label: "Authorized (hold placed)", micros: hold.amount_micros, at: hold.created_at },
  ];
  const entries = [...(hold.entries ?? [])].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  for (const e of entries) steps.push({ label: e.kind === "charge" ? "Charge" : e.kind, micros: e.amount_micros, at: e.created_at, entry: e });
  const left = toMicros(hold.amount_micros) - toMicros(hold.charged_micros);
  if (hold.status === "open") steps.push({ label: `Open until ${when(hold.expires_at)}`, micros: null, at: null });
  else
    steps.push({
      label: `Final: ${hold.status}${left > 0n ? ` — ${formatAmount(left, hold.unit, { exact: true })} returned to the balance` : ""}`,
      micros: hold.charged_micros,
      at: null,
    });
  return steps;
}

/** One hold from authorize to final charge or release, with each entry's trace. */
export function HoldDialog({ holdId, onClose }: { holdId: string | null; onClose: () => void }) {
  const { data: hold, isPending, error } = useGetOne<Hold & { id: string }>(RESOURCES.holds, { id: holdId ?? "" }, { enabled: Boolean(holdId) });
  return (
    <Dialog open={Boolean(holdId)} onClose={onClose} fullWidth maxWidth="md" data-testid="hold-dialog">
      <DialogTitle>Hold {holdId}</DialogTitle>
      <DialogContent>
        {isPending && <LinearProgress />}
        {error && <Alert severity="error">{describeError(error).message}</Alert>}
        {hold && (
          <Stack spacing={2}>
            <Typography variant="body2">
              Account {hold.account_id} · status <b>{hold.status}</b> · authorized {formatAmount(hold.amount_micros, hold.unit, { exact: true })} · charged{" "}
              {formatAmount(hold.charged_micros, hold.unit, { exact: true })} · rate table <RateTableRef tableId={hold.rate_table_id} version={hold.rate_table_version} /> · expires {when(hold.expires_at)}
            </Typography>
            <Box>
              <Attribution attribution={hold.attribution} />
            </Box>
            {hold.entries_more && (
              <Alert severity="info" data-testid="hold-entries-more">
                Only the hold's latest {hold.entries.length} entries are shown: the Entries list filtered by this hold has them all.
              </Alert>
            )}
            <Table size="small">
              <TableHead>
                <TableRow>
                  <TableCell>Step</TableCell>
                  <TableCell>When</TableCell>
                  <TableCell align="right">Amount</TableCell>
                  <TableCell>Trace</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {holdSteps(hold).map((s, i) => (
                  <TableRow key={i} data-testid="hold-step">
                    <TableCell>{s.label}</TableCell>
                    <TableCell>{when(s.at)}</TableCell>
                    <TableCell align="right">{s.micros === null ? "" : <Amount micros={s.micros} unit={s.entry?.unit ?? hold.unit} exact />}</TableCell>
                    <TableCell>{s.entry ? <TraceLink traceId={s.entry.trace_id} /> : null}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </Stack>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>
    </Dialog>
  );
}
