import { Box, Typography } from "@mui/material";
import { useListContextWithProps } from "react-admin";

/**
 * What an empty list says instead of a table and a pager: what is missing, and
 * where it would come from; in a list filtered by an account that does not
 * exist (the data provider's `meta.account_not_found`), that instead.
 */
export function EmptyState(props: { title: string; hint?: string }) {
  const missing = (useListContextWithProps().meta as { account_not_found?: string } | undefined)?.account_not_found;
  const { title, hint } = missing !== undefined ? { title: `No account ${JSON.stringify(missing)}`, hint: "No account has this id: check it, or find the account from Search." } : props;
  return (
    <Box sx={{ p: 3, textAlign: "center" }} data-testid="empty-state">
      <Typography variant="subtitle1">{title}</Typography>
      {hint && (
        <Typography variant="body2" color="text.secondary">
          {hint}
        </Typography>
      )}
    </Box>
  );
}
