import { Box } from "@mui/material";
import { formatAmount, toMicros, type FormatOptions } from "../money";

/** A formatted amount; negative ones in red. */
export function Amount({ micros, unit, exact, testId }: { micros: string | number | null | undefined; unit: string; testId?: string } & FormatOptions) {
  const negative = toMicros(micros) < 0n;
  return (
    <Box component="span" data-testid={testId} sx={{ whiteSpace: "nowrap", color: negative ? "error.main" : undefined }}>
      {formatAmount(micros, unit, { exact })}
    </Box>
  );
}
