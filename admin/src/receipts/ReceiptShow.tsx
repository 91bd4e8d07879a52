import Undo from "@mui/icons-material/Undo";
import { Alert, Box, Button, Card, CardContent, CardHeader, Chip, Stack, Table, TableBody, TableCell, TableHead, TableRow, Tooltip, Typography } from "@mui/material";
import { useState } from "react";
import { Link as RaLink, ShowBase, Title, useShowContext } from "react-admin";
import type { Receipt } from "../api-types";
import { Amount } from "../components/Amount";
import { EmptyState } from "../components/EmptyState";
import { RateTableRef } from "../components/RateTableRef";
import { TraceLink } from "../components/TraceLink";
import { RESOURCES } from "../data-provider";
import { Attribution, reportedLate } from "../entries/EntriesTable";
import { ActionDialog } from "../components/ActionDialog";
import { useRole, useTollgate } from "../hooks";
import { describeError } from "../http";
import { formatAmount } from "../money";

/** The console route of a charge's or hold's receipt. */
export const receiptPath = (id: string) => `/${RESOURCES.receipts}/${encodeURIComponent(id)}/show`;

function Fact({ label, testId, children }: { label: string; testId: string; children: React.ReactNode }) {
  return (
    <Box sx={{ minWidth: 180 }}>
      <Typography variant="caption" color="text.secondary">
        {label}
      </Typography>
      <Typography variant="body1" component="div" data-testid={testId}>
        {children}
      </Typography>
    </Box>
  );
}

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString("en-US") : "—");

function Summary({ r }: { r: Receipt }) {
  // The charge the receipt is of, or a hold's last charge.
  const charged = r.charges.find((c) => String(c.id) === String(r.id)) ?? r.charges.at(-1);
  return (
    <Card variant="outlined">
      <CardContent>
        <Stack direction="row" sx={{ flexWrap: "wrap", gap: 3 }}>
          <Fact label="Account" testId="receipt-account">
            <RaLink to={`/${RESOURCES.accounts}/${encodeURIComponent(r.account_id)}/show`}>{r.account_id}</RaLink>
          </Fact>
          <Fact label="Asked" testId="receipt-asked">
            <Amount micros={r.asked_micros} unit={r.unit} exact />
          </Fact>
          <Fact label="Charged" testId="receipt-charged">
            <Amount micros={r.charged_micros} unit={r.unit} exact />
          </Fact>
          {r.uncollected_micros !== "0" && (
            <Fact label="Uncollected" testId="receipt-uncollected">
              <Amount micros={r.uncollected_micros} unit={r.unit} exact />
            </Fact>
          )}
          <Fact label="Balance before" testId="receipt-balance-before">
            <Amount micros={r.balance_before_micros} unit={r.unit} exact />
          </Fact>
          <Fact label="Balance after" testId="receipt-balance-after">
            <Amount micros={r.balance_after_micros} unit={r.unit} exact />
          </Fact>
          <Fact label="Bucket" testId="receipt-bucket">
            {r.bucket || "—"}
          </Fact>
          <Fact label={charged ? "Usage at" : "Authorized at"} testId="receipt-when">
            {charged ? when(charged.occurred_at ?? charged.created_at) : when(r.hold?.created_at)}
          </Fact>
          {charged && reportedLate(charged) && (
            <Fact label="Recorded at" testId="receipt-recorded">
              {when(charged.created_at)}
            </Fact>
          )}
        </Stack>
        <Stack direction="row" sx={{ flexWrap: "wrap", gap: 3, mt: 2 }}>
          <Fact label="Idempotency key" testId="receipt-idempotency-key">
            {r.idempotency_key ? (
              <>
                <Box component="span" sx={{ fontFamily: "monospace" }}>
                  {r.idempotency_key}
                </Box>{" "}
                <Chip size="small" variant="outlined" label={r.operation} />
              </>
            ) : (
              <Typography variant="body2" color="text.secondary">
                not retained
              </Typography>
            )}
          </Fact>
          <Fact label="Called by" testId="receipt-actor">
            {r.actor ? (r.on_behalf_of ? `${r.on_behalf_of} (via ${r.actor})` : r.actor) : <Typography variant="body2" color="text.secondary">not recorded (a metering tick, or a charge from before callers were recorded)</Typography>}
          </Fact>
          <Fact label="Trace" testId="receipt-trace">
            <TraceLink traceId={r.trace_id} />
          </Fact>
          {r.hold && (
            <Fact label="Hold" testId="receipt-hold">
              <RaLink to={receiptPath(r.hold.id)}>{r.hold.id}</RaLink> · {r.hold.status}
            </Fact>
          )}
        </Stack>
        {r.charges[0] && (
          <Box sx={{ mt: 2 }}>
            <Attribution attribution={r.charges[0].attribution} />
          </Box>
        )}
      </CardContent>
    </Card>
  );
}

function LineItems({ r }: { r: Receipt }) {
  return (
    <Card variant="outlined">
      <CardHeader
        title={
          <>
            Priced by <RateTableRef tableId={r.rate_table_id} version={r.rate_table_version} />
          </>
        }
        slotProps={{ title: { variant: "subtitle1" } }}
      />
      {r.line_items.length === 0 ? (
        <EmptyState title="No line items." hint="No rate of the version that priced this charge names what it used (unmetered usage is charged at zero)." />
      ) : (
        <Table size="small" data-testid="receipt-lines">
          <TableHead>
            <TableRow>
              <TableCell>Line item</TableCell>
              <TableCell>Bucket</TableCell>
              <TableCell align="right">Quantity</TableCell>
              <TableCell align="right">Rate</TableCell>
              <TableCell align="right">Amount</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {r.line_items.map((l) => (
              <TableRow key={l.description} data-testid="receipt-line">
                <TableCell>{l.description}</TableCell>
                <TableCell>{l.bucket}</TableCell>
                <TableCell align="right" data-testid="receipt-line-quantity">
                  {l.quantity ?? "not recorded"}
                </TableCell>
                <TableCell align="right">
                  {formatAmount(l.rate_micros, l.unit, { exact: true })}
                  {l.rate_per !== "1" ? ` per ${Number(l.rate_per).toLocaleString("en-US")}` : " each"}
                </TableCell>
                <TableCell align="right">{l.amount_micros === "0" && r.line_items.length > 1 ? "—" : <Amount micros={l.amount_micros} unit={l.unit} exact />}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </Card>
  );
}

function Pools({ r }: { r: Receipt }) {
  return (
    <Card variant="outlined">
      <CardHeader title="Pools drawn" slotProps={{ title: { variant: "subtitle1" } }} />
      {r.pools.length === 0 ? (
        <EmptyState title="No pool was drawn." hint={r.charges.length ? "The charge was at zero, or uncollected." : "The hold has not been charged yet."} />
      ) : (
        <Table size="small">
          <TableHead>
            <TableRow>
              <TableCell>Pool</TableCell>
              <TableCell>Kind</TableCell>
              <TableCell align="right">Drawn</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {r.pools.map((p) => (
              <TableRow key={p.pool_id} data-testid="receipt-pool">
                <TableCell sx={{ fontFamily: "monospace" }}>{p.pool_id}</TableCell>
                <TableCell>{p.kind}</TableCell>
                <TableCell align="right" data-testid="receipt-pool-drawn">
                  <Amount micros={p.drawn_micros} unit={r.unit} exact />
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </Card>
  );
}

function Caused({ r }: { r: Receipt }) {
  return (
    <Card variant="outlined">
      <CardHeader title="What it caused" slotProps={{ title: { variant: "subtitle1" } }} />
      {r.events.length === 0 && r.notifications.length === 0 ? (
        <EmptyState title="No events or notifications." hint="Threshold crossings, spend caps, stopped work and reloads a charge causes show here (events while the outbox keeps them)." />
      ) : (
        <Table size="small">
          <TableHead>
            <TableRow>
              <TableCell>What</TableCell>
              <TableCell>Details</TableCell>
              <TableCell>When</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {r.events.map((e) => (
              <TableRow key={`event-${e.sequence}`} data-testid="receipt-event">
                <TableCell>
                  <Chip size="small" label={e.kind.replace(/_/g, " ")} /> #{e.sequence}
                </TableCell>
                <TableCell>
                  {Object.entries(e.details)
                    .map(([k, v]) => `${k}: ${String(v)}`)
                    .join(" · ")}
                </TableCell>
                <TableCell>{when(e.occurred_at)}</TableCell>
              </TableRow>
            ))}
            {r.notifications.map((n) => (
              <TableRow key={n.id} data-testid="receipt-notification">
                <TableCell>
                  <Chip size="small" variant="outlined" label={n.channel} /> {n.rule}
                </TableCell>
                <TableCell>
                  {n.recipient || "—"} · {n.status}
                </TableCell>
                <TableCell>{when(n.created_at)}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </Card>
  );
}

function Charges({ r }: { r: Receipt }) {
  if (!r.hold || r.charges.length <= 1) return null;
  return (
    <Card variant="outlined">
      <CardHeader title={`Charges on this hold (${r.charges.length})`} slotProps={{ title: { variant: "subtitle1" } }} />
      <Table size="small">
        <TableBody>
          {r.charges.map((c) => (
            <TableRow key={c.id}>
              <TableCell>
                <RaLink to={receiptPath(String(c.id))}>Entry #{String(c.id)}</RaLink>
              </TableCell>
              <TableCell align="right">
                <Amount micros={c.amount_micros} unit={c.unit} exact />
              </TableCell>
              <TableCell>{when(c.created_at)}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Card>
  );
}

/**
 * Reversing the receipt's charge: one compensating entry that returns it to
 * the pools it drew from (operator, reason required, audited, once). A
 * reversed charge links to its reversal.
 */
function Reversal({ r }: { r: Receipt }) {
  const provider = useTollgate();
  const { canOperate } = useRole();
  const [open, setOpen] = useState(false);
  const charge = r.charges.find((c) => String(c.id) === String(r.id));
  if (!charge) return null;
  if (charge.reversed_by_entry_id) {
    return (
      <Alert severity="info" data-testid="receipt-reversed">
        This charge was reversed by entry #{charge.reversed_by_entry_id}: its credits went back to the pools it drew from.
      </Alert>
    );
  }
  const button = (
    <Button size="small" startIcon={<Undo />} onClick={() => setOpen(true)} disabled={!canOperate} data-testid="reverse-button">
      Reverse charge
    </Button>
  );
  return (
    <Box>
      {canOperate ? button : <Tooltip title="Needs the operator role"><span>{button}</span></Tooltip>}
      <ActionDialog
        open={open}
        onClose={() => setOpen(false)}
        title={`Reverse charge #${String(charge.id)}`}
        testId="reverse"
        submitLabel="Reverse"
        successMessage="Charge reversed"
        onSubmit={(reason, idempotencyKey) => provider.reverseCharge(RESOURCES.accounts, { accountId: r.account_id, entry_id: String(charge.id), reason, idempotencyKey })}
      >
        {() => (
          <Typography variant="body2">
            Returns <Amount micros={charge.amount_micros} unit={charge.unit} exact /> to the pools the charge drew from, as one compensating entry. A charge is reversed once.
          </Typography>
        )}
      </ActionDialog>
    </Box>
  );
}

function ReceiptView() {
  const { record, isPending, error } = useShowContext<Receipt>();
  if (isPending) return <Typography sx={{ p: 2 }}>Loading…</Typography>;
  if (error || !record) return <Alert severity="error">{error ? describeError(error).message : "No such receipt."}</Alert>;
  const r = record;
  const title = r.hold && !r.charges.some((c) => String(c.id) === String(r.id)) ? `Receipt of hold ${r.hold.id}` : `Receipt of charge #${String(r.id)}`;
  return (
    <Stack spacing={2} sx={{ mt: 2 }} data-testid="receipt-page">
      <Title title={title} />
      <Typography variant="h6">{title}</Typography>
      <Summary r={r} />
      <Reversal r={r} />
      <LineItems r={r} />
      <Pools r={r} />
      <Charges r={r} />
      <Caused r={r} />
    </Stack>
  );
}

/** The cost receipt of a charge (by entry id) or a hold (by hold id). */
export function ReceiptShow() {
  return (
    <ShowBase resource={RESOURCES.receipts}>
      <ReceiptView />
    </ShowBase>
  );
}
