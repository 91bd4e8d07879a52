import { Alert, Button, Card, CardContent, CardHeader, Chip, LinearProgress, Stack, Table, TableBody, TableCell, TableHead, TableRow, Typography } from "@mui/material";
import { useInfiniteQuery } from "@tanstack/react-query";
import type { ToolsPage } from "../api-types";
import { EmptyState } from "../components/EmptyState";
import { RESOURCES } from "../data-provider";
import { useTollgate } from "../hooks";
import { describeError } from "../http";

/** Tools shown at first and added by each "Show more". */
export const TOOLS_PAGE_SIZE = 100;

const STATUS_COLORS: Record<string, "success" | "default" | "error"> = { deployed: "success", undeployed: "default", deleted: "error" };

function Total({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <Card variant="outlined" sx={{ flex: "1 1 200px" }}>
      <CardContent>
        <Typography variant="caption" color="text.secondary">
          {label}
        </Typography>
        <Typography variant="h6" data-testid={testId}>
          {Number(value).toLocaleString("en-US")}
        </Typography>
      </CardContent>
    </Card>
  );
}

/**
 * Seed 001's Tools tab: every tool deployed at least once (tools in
 * development are left out), with its owner, runs, last activity and status,
 * and the account's totals. Owner and status come from the ledger's tool
 * catalogue (SetTool); runs and activity from the tool's charges.
 */
export function ToolCatalogue({ accountId }: { accountId: string }) {
  const provider = useTollgate();
  const query = useInfiniteQuery({
    queryKey: ["tollgate", "tools", accountId],
    initialPageParam: "",
    queryFn: ({ pageParam, signal }) => provider.getAccountTools(RESOURCES.accounts, { accountId, pageSize: TOOLS_PAGE_SIZE, pageToken: pageParam, signal }),
    getNextPageParam: (last: ToolsPage) => last.next_page_token || undefined,
  });
  // The totals are the account's, on every page; the rows add up page by page.
  const first = query.data?.pages[0];
  const page = first && { ...first, data: query.data!.pages.flatMap((p) => p.data) };
  return (
    <Stack spacing={2}>
      {page && (
        <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2 }}>
          <Total label="Total tools" value={page.total_tools} testId="tools-total" />
          <Total label="Total runs" value={page.total_runs} testId="tools-runs" />
        </Stack>
      )}
      <Card variant="outlined" data-testid="tool-catalogue">
        <CardHeader title="Tools" subheader="Deployed at least once; tools in development are not shown." slotProps={{ title: { variant: "subtitle1" } }} />
        {query.isPending && <LinearProgress />}
        {query.isError && <Alert severity="error">{describeError(query.error).message}</Alert>}
        {page && page.data.length === 0 ? (
          <EmptyState title="No deployed tools." hint="Tools appear once the product records them as deployed (SetTool); tools in development are left out." />
        ) : page ? (
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>Tool name</TableCell>
                <TableCell align="right">Runs</TableCell>
                <TableCell>Owner name</TableCell>
                <TableCell>Last active on</TableCell>
                <TableCell>Status</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {page.data.map((t) => (
                <TableRow key={t.id} data-testid="tool-row" data-tool={t.id}>
                  <TableCell>{t.id}</TableCell>
                  <TableCell align="right" data-testid="tool-runs">
                    {Number(t.runs).toLocaleString("en-US")}
                  </TableCell>
                  <TableCell data-testid="tool-owner">{t.owner || "—"}</TableCell>
                  <TableCell>{t.last_active_at ? new Date(t.last_active_at).toLocaleDateString("en-US") : "never"}</TableCell>
                  <TableCell>
                    <Chip size="small" color={STATUS_COLORS[t.status] ?? "default"} label={t.status} data-testid="tool-status" />
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        ) : null}
        {query.hasNextPage && (
          <CardContent>
            <Button size="small" onClick={() => query.fetchNextPage()} disabled={query.isFetchingNextPage} data-testid="tools-more">
              {query.isFetchingNextPage ? "Loading…" : "Show more"}
            </Button>
          </CardContent>
        )}
      </Card>
    </Stack>
  );
}
