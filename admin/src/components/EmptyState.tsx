import { Box, Typography } from "@mui/material";

/** What an empty list says instead of a table and a pager: what is missing, and where it would come from. */
export function EmptyState({ title, hint }: { title: string; hint?: string }) {
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
