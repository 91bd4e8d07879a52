import { Alert, Box, Button, Card, CardContent, CardHeader, LinearProgress, Table, TableBody, TableCell, TableHead, TableRow } from "@mui/material";
import { useInfiniteQuery } from "@tanstack/react-query";
import type { TopDimension, TopPage } from "../api-types";
import { useTollgate } from "../hooks";
import { describeError } from "../http";
import { formatAmount, formatBasisPoints } from "../money";
import { RESOURCES } from "../data-provider";

export interface TopTableProps {
  accountId: string;
  dimension: TopDimension;
  title: string;
  /** Unit the amounts are in (the account's unit). */
  unit: string;
  keyLabel?: string;
  amountLabel?: string;
  requestsLabel?: string;
  /** What the row of usage without this attribution is called (e.g. "Usage without a tool"). */
  noneLabel?: string;
  pageSize?: number;
}

/** The unit of one top row: amounts are in the account's unit, except the `tool_runs` bucket, which counts tool runs. */
export const rowUnit = (dimension: TopDimension | string, key: string, unit: string) =>
  dimension === "bucket" && key === "tool_runs" ? "tool_runs" : unit;

/** A top-N table (`/api/accounts/:id/top`) with totals, requests and share, and "Show more" for the next page. */
export function TopTable({ accountId, dimension, title, unit, keyLabel = "Name", amountLabel = "Used", requestsLabel = "Requests", noneLabel = "(none)", pageSize = 10 }: TopTableProps) {
  const provider = useTollgate();
  const query = useInfiniteQuery({
    queryKey: ["tollgate", "top", accountId, dimension, pageSize],
    initialPageParam: "",
    queryFn: ({ pageParam, signal }) =>
      provider.getAccountTop(RESOURCES.accounts, { accountId, dimension, pageSize, pageToken: pageParam, signal }) as Promise<TopPage>,
    getNextPageParam: (last: TopPage) => last.next_page_token || undefined,
  });
  const rows = query.data?.pages.flatMap((p) => p.data ?? []) ?? [];
  const total = query.data?.pages[0]?.total_micros;

  return (
    <Card variant="outlined" data-testid={`top-${dimension}`}>
      <CardHeader
        title={title}
        subheader={total !== undefined ? `Total ${formatAmount(total, unit)}` : undefined}
        slotProps={{ title: { variant: "subtitle1" } }}
      />
      {query.isPending && <LinearProgress />}
      <CardContent sx={{ pt: 0 }}>
        {query.isError && <Alert severity="error">{describeError(query.error).message}</Alert>}
        {!query.isPending && !query.isError && rows.length === 0 && <Box sx={{ color: "text.secondary" }}>No usage recorded.</Box>}
        {rows.length > 0 && (
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>{keyLabel}</TableCell>
                <TableCell align="right">{amountLabel}</TableCell>
                <TableCell align="right">{requestsLabel}</TableCell>
                <TableCell align="right">Share</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {rows.map((row) => (
                <TableRow key={row.id}>
                  <TableCell sx={{ wordBreak: "break-word" }}>{row.key || <Box component="span" sx={{ color: "text.secondary", fontStyle: "italic" }}>{noneLabel}</Box>}</TableCell>
                  <TableCell align="right" sx={{ whiteSpace: "nowrap" }}>{formatAmount(row.amount_micros, rowUnit(dimension, row.key, unit))}</TableCell>
                  <TableCell align="right">{Number(row.requests).toLocaleString("en-US")}</TableCell>
                  <TableCell align="right">{formatBasisPoints(row.share_basis_points)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
        {query.hasNextPage && (
          <Button size="small" sx={{ mt: 1 }} onClick={() => query.fetchNextPage()} disabled={query.isFetchingNextPage} data-testid={`top-${dimension}-more`}>
            {query.isFetchingNextPage ? "Loading…" : "Show more"}
          </Button>
        )}
      </CardContent>
    </Card>
  );
}
