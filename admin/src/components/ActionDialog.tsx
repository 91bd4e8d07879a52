import { Alert, Button, Dialog, DialogActions, DialogContent, DialogTitle, Stack, TextField } from "@mui/material";
import { useState, type ReactNode } from "react";
import { useNotify, useRefresh } from "react-admin";
import { describeError } from "../http";

export interface FieldError {
  field: string;
  message: string;
}

export interface ActionDialogProps {
  open: boolean;
  onClose: () => void;
  title: string;
  /** Prefix of the dialog's data-testids: `${testId}-dialog`, `-reason`, `-submit`, `-error`. */
  testId: string;
  submitLabel: string;
  /** The action's own fields; `errorFor(name)` is the message for that field (from local checks or the API's `field`). */
  children?: (errorFor: (field: string) => string | undefined) => ReactNode;
  /** Local checks before calling the API. */
  validate?: () => FieldError | null;
  /** Calls the API with the reason; throws the data provider's error when it refuses. */
  onSubmit: (reason: string) => Promise<unknown>;
  successMessage: string;
}

/**
 * The dialog every support action goes through: the action's fields, a
 * required reason (it is audited), and the API's error message and field
 * when it refuses.
 */
export function ActionDialog({ open, onClose, title, testId, submitLabel, children, validate, onSubmit, successMessage }: ActionDialogProps) {
  const [reason, setReason] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<{ message: string; field?: string; code?: string } | null>(null);
  const notify = useNotify();
  const refresh = useRefresh();

  const close = () => {
    if (pending) return;
    setReason("");
    setError(null);
    onClose();
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!reason.trim()) {
      setError({ message: "A reason is required: it is recorded in the audit log", field: "reason" });
      return;
    }
    const local = validate?.();
    if (local) {
      setError(local);
      return;
    }
    setPending(true);
    setError(null);
    try {
      await onSubmit(reason.trim());
      notify(successMessage, { type: "success" });
      refresh();
      setPending(false);
      setReason("");
      onClose();
    } catch (e) {
      setPending(false);
      setError(describeError(e));
    }
  };

  const errorFor = (field: string) => (error?.field === field ? error.message : undefined);

  return (
    <Dialog open={open} onClose={close} fullWidth maxWidth="sm" data-testid={`${testId}-dialog`} aria-labelledby={`${testId}-title`}>
      <form onSubmit={submit} noValidate>
        <DialogTitle id={`${testId}-title`}>{title}</DialogTitle>
        <DialogContent>
          <Stack spacing={2} sx={{ pt: 1 }}>
            {error && (
              <Alert severity="error" data-testid={`${testId}-error`} data-field={error.field ?? ""}>
                {error.message}
                {error.code ? ` (${error.code})` : ""}
                {error.field ? ` — field: ${error.field}` : ""}
              </Alert>
            )}
            {children?.(errorFor)}
            <TextField
              label="Reason (required, audited)"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              required
              multiline
              minRows={2}
              error={Boolean(errorFor("reason"))}
              helperText={errorFor("reason")}
              slotProps={{ htmlInput: { "data-testid": `${testId}-reason`, "aria-label": "Reason" } }}
            />
          </Stack>
        </DialogContent>
        <DialogActions>
          <Button onClick={close} disabled={pending}>
            Cancel
          </Button>
          <Button type="submit" variant="contained" disabled={pending} data-testid={`${testId}-submit`}>
            {submitLabel}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
