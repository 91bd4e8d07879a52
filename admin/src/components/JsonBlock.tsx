import { Box } from "@mui/material";
import { humanizeMicros } from "../money";

/** Pretty-printed JSON for audit before/after, plan documents and rates; micro-unit fields shown in whole units. */
export function JsonBlock({ value, maxHeight = 320 }: { value: unknown; maxHeight?: number }) {
  if (value === undefined || value === null || value === "") return <Box component="span" sx={{ color: "text.secondary" }}>—</Box>;
  return (
    <Box
      component="pre"
      sx={{ m: 0, p: 1, fontSize: 12, bgcolor: "action.hover", borderRadius: 1, overflow: "auto", maxHeight, whiteSpace: "pre-wrap", wordBreak: "break-word" }}
    >
      {typeof value === "string" ? value : JSON.stringify(humanizeMicros(value), null, 2)}
    </Box>
  );
}
