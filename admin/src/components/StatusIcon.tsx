import CheckCircle from "@mui/icons-material/CheckCircle";
import Circle from "@mui/icons-material/Circle";
import ErrorIcon from "@mui/icons-material/Error";
import WarningAmber from "@mui/icons-material/WarningAmber";
import { Box, Tooltip } from "@mui/material";
import type { StatusIcon as State } from "../api-types";

const LOOK: Record<State, { label: string; color: string; Icon: typeof Circle }> = {
  green: { label: "Healthy: more than 75% remaining", color: "success.main", Icon: CheckCircle },
  yellow: { label: "Moderate: 25–75% remaining", color: "warning.main", Icon: Circle },
  red: { label: "Low: less than 25% remaining", color: "error.main", Icon: ErrorIcon },
  warning: { label: "Exhausted: nothing remaining", color: "error.dark", Icon: WarningAmber },
};

/** The balance status icon of one unit (green / yellow / red / warning triangle), as the API computed it. */
export function StatusIcon({ state, testId = "status-icon" }: { state: State | string; testId?: string }) {
  const look = LOOK[state as State] ?? LOOK.warning;
  return (
    <Tooltip title={look.label}>
      <Box
        component="span"
        role="img"
        aria-label={look.label}
        data-testid={testId}
        data-state={state}
        sx={{ display: "inline-flex", color: look.color, verticalAlign: "middle" }}
      >
        <look.Icon fontSize="small" />
      </Box>
    </Tooltip>
  );
}
