import { Alert, Button, Dialog, DialogActions, DialogContent, DialogTitle, Stack, TextField } from "@mui/material";
import { useRef, useState, type ReactNode } from "react";
import { useNotify, useRefresh } from "react-admin";
import { HttpError, describeError } from "../http";

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
  /** What the action changes when one dialog serves several on a page (a budget's id, a banner's): a try's key is kept per target. */
  target?: string;
  submitLabel: string;
  /** The action's own fields; `errorFor(name)` is the message for that field (from local checks or the API's `field`). */
  children?: (errorFor: (field: string) => string | undefined) => ReactNode;
  /** Local checks before calling the API. */
  validate?: () => FieldError | null;
  /** Calls the API with the reason and this submission's Idempotency-Key (send it: `Keyed`); throws the data provider's error when it refuses. */
  onSubmit: (reason: string, idempotencyKey: string) => Promise<unknown>;
  /** Said when it is done; a function words it from the API's answer. */
  successMessage: string | ((answer: unknown) => string);
}

/** A new Idempotency-Key (getRandomValues, unlike randomUUID, also works on a console served over plain http). */
function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `ui-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Whether the action may have been done although no answer said so: the
 * request got no answer (the network, a timeout) or a 5xx. Its retry keeps
 * the key, so the gateway replays it rather than acting twice; after any
 * other answer (done, or refused: nothing was done) the next try is a new
 * action with a new key.
 */
const outcomeUnknown = (error: unknown) => !(error instanceof HttpError) || error.status >= 500;

/**
 * The keys of tries whose outcome is unknown, by dialog, page and target
 * (`testId`, the location's hash and the dialog's `target`: grant on one
 * account's page, a change of one of its budgets), in the tab's session
 * storage. Closing the dialog, leaving the page or reloading it keeps the key,
 * so submitting it again replays the try instead of granting twice; an answer
 * (done or refused) settles it.
 */
const unsettled = {
  // The page without its tab or query: one account's page, whichever tab the dialog was opened on.
  slot: (testId: string, target: string) => `tollgate.unsettled.${testId}${target ? `:${target}` : ""}@${window.location.hash.replace(/\/show(\/.*)?$|\?.*$/, "")}`,
  get: (slot: string) => sessionStorage.getItem(slot) ?? undefined,
  set: (slot: string, key: string) => sessionStorage.setItem(slot, key),
  delete: (slot: string) => sessionStorage.removeItem(slot),
};

/** What the dialog says, reopened, while its last try's outcome is unknown. */
const LAST_TRY_UNKNOWN =
  "Your last try got no answer and may have been done. Submitting the same again is safe: it is done once. Check the account's history before changing anything.";

/** The gateway's answer to a key sent again with other values: the earlier try under it was done. */
const keyReused = (error: unknown) => error instanceof HttpError && error.status === 409 && error.body.reason === "IDEMPOTENCY_KEY_REUSED";

/** What the dialog says when a try whose answer was lost turns out done, and this one (changed since) was not. */
const EARLIER_TRY_DONE =
  "Your earlier try went through with the values it sent; this one, changed since, was not done. The page now shows the earlier one. Submit again only to make this change as well.";

/**
 * The dialog every support action goes through: the action's fields, a
 * required reason (it is audited), the API's error message and field
 * when it refuses, and one Idempotency-Key for the tries of a submission.
 */
export function ActionDialog({ open, onClose, title, testId, target = "", submitLabel, children, validate, onSubmit, successMessage }: ActionDialogProps) {
  const [reason, setReason] = useState("");
  const [pending, setPending] = useState(false);
  const slot = unsettled.slot(testId, target);
  const [key, setKey] = useState(() => unsettled.get(slot) ?? newKey());
  /** The last try got no answer (or a 5xx): it may have been done. Its key is the one kept for this slot. */
  const uncertain = unsettled.get(slot) === key;
  const [error, setError] = useState<{ message: string; field?: string; code?: string } | null>(null);
  // The page or target changed under the mounted dialog (another account's page, another budget): take up that one's own
  // key, never the last one's, whose try was for something else.
  const [slotShown, setSlotShown] = useState(slot);
  /** The slot shown now, for a submit that answers after the page changed: it settles its own slot, not the one shown. */
  const shownRef = useRef(slot);
  shownRef.current = slot;
  if (slotShown !== slot) {
    setSlotShown(slot);
    setKey(unsettled.get(slot) ?? newKey());
    setError(null);
  }
  const notify = useNotify();
  const refresh = useRefresh();

  const close = () => {
    if (pending) return;
    setReason("");
    setError(null);
    // A try that may have been done keeps its key (and the dialog says so when it opens again).
    if (!uncertain) setKey(newKey());
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
    const submitted = slot;
    const stillShown = () => shownRef.current === submitted;
    try {
      const answer = await onSubmit(reason.trim(), key);
      notify(typeof successMessage === "string" ? successMessage : successMessage(answer), { type: "success" });
      refresh();
      unsettled.delete(submitted);
      setPending(false);
      if (!stillShown()) return; // the dialog shows another page's action now: its key and warning stay as they are
      setReason("");
      setError(null);
      setKey(newKey());
      onClose();
    } catch (e) {
      setPending(false);
      const unknown = outcomeUnknown(e);
      if (unknown) unsettled.set(submitted, key);
      else unsettled.delete(submitted);
      if (!stillShown()) return;
      if (!unknown) setKey(newKey());
      if (uncertain && keyReused(e)) {
        // The lost try was done: said plainly, and shown, so a second click is a choice, not a double grant by mistake.
        refresh();
        setError({ message: EARLIER_TRY_DONE });
      } else setError(describeError(e));
    }
  };

  const errorFor = (field: string) => (error?.field === field ? error.message : undefined);

  return (
    <Dialog open={open} onClose={close} fullWidth maxWidth="sm" data-testid={`${testId}-dialog`} aria-labelledby={`${testId}-title`}>
      <form onSubmit={submit} noValidate>
        <DialogTitle id={`${testId}-title`}>{title}</DialogTitle>
        <DialogContent>
          <Stack spacing={2} sx={{ pt: 1 }}>
            {!error && uncertain && (
              <Alert severity="warning" data-testid={`${testId}-error`}>
                {LAST_TRY_UNKNOWN}
              </Alert>
            )}
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
