import { Alert, Box, Card, CardContent, CardHeader, LinearProgress, Table, TableBody, TableCell, TableHead, TableRow, TextField as MuiTextField } from "@mui/material";
import { useState } from "react";
import { DateField, FunctionField, Labeled, Show, SimpleShowLayout, TextField, TopToolbar, useRecordContext, useRedirect } from "react-admin";
import type { RateTable } from "../api-types";
import { publisherOf } from "../publisher";
import { JsonBlock } from "../components/JsonBlock";
import { PublishVersion } from "../components/PublishVersion";
import { RESOURCES } from "../data-provider";
import { useEveryRecord, useRecordLoadErrors, useTollgate, useTollgateQuery } from "../hooks";
import { describeError } from "../http";

/** The changes between two versions of one table (`/api/rate-tables/diff`). */
export function RateDiff({ tableId, from, to }: { tableId: string; from: string; to: string }) {
  const query = useTollgateQuery(["rate-diff", tableId, from, to], (p, signal) => p.getRateTableDiff(RESOURCES.rateTables, { tableId, from, to, signal }));
  if (query.isPending) return <LinearProgress />;
  if (query.isError) return <Alert severity="error">{describeError(query.error).message}</Alert>;
  const changes = query.data?.changes ?? [];
  if (changes.length === 0) return <Alert severity="info">No rate changed between v{from} and v{to}.</Alert>;
  return (
    <Table size="small" data-testid="rate-diff">
      <TableHead>
        <TableRow>
          <TableCell>Rate</TableCell>
          <TableCell>v{from}</TableCell>
          <TableCell>v{to}</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {changes.map((c) => (
          <TableRow key={c.key}>
            <TableCell sx={{ fontFamily: "monospace", verticalAlign: "top" }}>{c.key}</TableCell>
            <TableCell sx={{ verticalAlign: "top", bgcolor: c.before == null ? undefined : "rgba(211,47,47,0.06)" }}>
              <JsonBlock value={c.before ?? "(absent)"} />
            </TableCell>
            <TableCell sx={{ verticalAlign: "top", bgcolor: c.after == null ? undefined : "rgba(46,125,50,0.06)" }}>
              <JsonBlock value={c.after ?? "(absent)"} />
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

/** Pick another version of the same table and see what changed. */
function DiffPanel() {
  const table = useRecordContext<RateTable>();
  const { data: versions } = useEveryRecord<RateTable>(RESOURCES.rateTables, { table_id: table?.table_id }, Boolean(table));
  const [other, setOther] = useState("");
  if (!table) return null;
  const others = versions.filter((v) => String(v.version) !== String(table.version));
  const older = other && Number(other) < Number(table.version);
  return (
    <Card variant="outlined" data-testid="rate-diff-panel">
      <CardHeader title="Compare versions" slotProps={{ title: { variant: "subtitle1" } }} />
      <CardContent>
        <MuiTextField select size="small" label="Compare with version" value={other} onChange={(e) => setOther(e.target.value)} sx={{ width: 320, mb: 2 }} slotProps={{ htmlInput: { "data-testid": "rate-diff-version" }, select: { native: true }, inputLabel: { shrink: true } }}>
          <option value="">{others.length === 0 ? "No other version" : "Choose a version"}</option>
          {others.map((v) => (
            <option key={String(v.version)} value={String(v.version)}>
              {`v${String(v.version)} · effective ${v.effective_from ? new Date(v.effective_from).toLocaleDateString("en-US") : "—"}`}
            </option>
          ))}
        </MuiTextField>
        {other && <RateDiff tableId={table.table_id} from={older ? other : String(table.version)} to={older ? String(table.version) : other} />}
      </CardContent>
    </Card>
  );
}

function Rates() {
  const table = useRecordContext<RateTable>();
  if (!table) return null;
  return (
    <Box sx={{ display: "grid", gridTemplateColumns: "repeat(auto-fill, minmax(320px, 1fr))", gap: 1 }}>
      {(table.rates ?? []).map((rate, i) => (
        <JsonBlock key={i} value={rate} maxHeight={200} />
      ))}
    </Box>
  );
}

/**
 * Publish a new version of this table (admin): its rates as JSON, starting
 * from this version's, effective now or from a date; pricing checks every
 * rate and names the one it refuses. The version opens once published.
 */
function PublishVersionAction() {
  const table = useRecordContext<RateTable>();
  const provider = useTollgate();
  const redirect = useRedirect();
  const [effectiveFrom, setEffectiveFrom] = useState("");
  if (!table) return <TopToolbar />;
  return (
    <TopToolbar>
      <PublishVersion
        testId="publish-version"
        title={`New version of ${table.table_id}`}
        field="rates"
        label="Rates (JSON)"
        helperText="As this version lists them; pricing refuses a rate it cannot use and names it."
        initial={() => table.rates ?? []}
        accepts={Array.isArray}
        invalid="must be a JSON list of rates"
        successMessage="Rate table version published"
        onOpen={() => setEffectiveFrom("")}
        publish={async (rates, reason, idempotencyKey) => {
          const answer = await provider.publishRateTable(RESOURCES.rateTables, {
            table_id: table.table_id, rates: rates as unknown[], ...(effectiveFrom ? { effective_from: new Date(effectiveFrom).toISOString() } : {}), reason, idempotencyKey,
          });
          redirect("show", RESOURCES.rateTables, answer.table.id);
          return answer;
        }}
      >
        {(errorFor) => (
          <MuiTextField
            label="Effective from (empty: now)" type="datetime-local" value={effectiveFrom} onChange={(e) => setEffectiveFrom(e.target.value)}
            slotProps={{ inputLabel: { shrink: true }, htmlInput: { "data-testid": "publish-version-effective-from" } }}
            error={Boolean(errorFor("effective_from"))} helperText={errorFor("effective_from")}
          />
        )}
      </PublishVersion>
    </TopToolbar>
  );
}

/** One rate-table version: its rates and a diff against another version. */
export function RateTableShow() {
  const loadErrors = useRecordLoadErrors();
  return (
    <Show queryOptions={loadErrors} title={<RateTableTitle />} actions={<PublishVersionAction />}>
      <SimpleShowLayout>
        <TextField source="table_id" label="Table" />
        <TextField source="version" />
        <DateField source="effective_from" showTime />
        <DateField source="published_at" showTime />
        <FunctionField<RateTable> label="Published by" render={(t) => publisherOf(t)} />
        <DiffPanel />
        <Labeled label="Rates">
          <Rates />
        </Labeled>
      </SimpleShowLayout>
    </Show>
  );
}

function RateTableTitle() {
  const table = useRecordContext<RateTable>();
  return <span>{table ? `Rate table ${table.table_id} v${String(table.version)}` : "Rate table"}</span>;
}
