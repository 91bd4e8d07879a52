import Publish from "@mui/icons-material/Publish";
import { Button, TextField, Tooltip } from "@mui/material";
import { useState, type ReactNode } from "react";
import { useRole } from "../hooks";
import { ActionDialog } from "./ActionDialog";

export interface PublishVersionProps {
  /** Prefix of the data-testids: `${testId}-button`, `${testId}-${field}` (the JSON), and the dialog's own. */
  testId: string;
  title: string;
  /** The API's name for the JSON sent (`rates`, `plan`): its errors are shown under the JSON. */
  field: string;
  label: string;
  helperText: string;
  /** The version shown, as the JSON to start from. */
  initial: () => unknown;
  /** Whether the parsed JSON has the right shape; `invalid` says what it must be. */
  accepts: (value: unknown) => boolean;
  invalid: string;
  successMessage: string;
  /** Fields besides the JSON (an effective date); `onOpen` resets them. */
  children?: (errorFor: (field: string) => string | undefined) => ReactNode;
  onOpen?: () => void;
  /** Sends the new version with the reason; throws the API's refusal. */
  publish: (value: unknown, reason: string, idempotencyKey: string) => Promise<unknown>;
}

/**
 * Publish a new version of a versioned document (a rate table, a plan) as an
 * admin: its JSON, starting from the version shown, and a reason (audited).
 * The service checks it and names the field it refuses.
 */
export function PublishVersion({ testId, title, field, label, helperText, initial, accepts, invalid, successMessage, children, onOpen, publish }: PublishVersionProps) {
  const { canAdmin, isPending } = useRole();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  // Shown once the role is known: never a button that is disabled only because permissions are still loading.
  if (isPending) return null;
  const start = () => {
    setText(JSON.stringify(initial(), null, 2));
    onOpen?.();
    setOpen(true);
  };
  const parsed = (): { value: unknown } | null => {
    try {
      const value = JSON.parse(text) as unknown;
      return accepts(value) ? { value } : null;
    } catch {
      return null;
    }
  };
  const button = (
    <Button size="small" startIcon={<Publish />} onClick={start} disabled={!canAdmin} data-testid={`${testId}-button`}>
      Publish a new version
    </Button>
  );
  return (
    <>
      {canAdmin ? button : <Tooltip title="Needs the admin role"><span>{button}</span></Tooltip>}
      <ActionDialog
        open={open}
        onClose={() => setOpen(false)}
        title={title}
        testId={testId}
        submitLabel="Publish"
        validate={() => (parsed() ? null : { field, message: invalid })}
        onSubmit={(reason, idempotencyKey) => publish(parsed()!.value, reason, idempotencyKey)}
        successMessage={successMessage}
      >
        {(errorFor) => (
          <>
            {children?.(errorFor)}
            <TextField
              label={label} multiline minRows={10} maxRows={24} value={text} onChange={(e) => setText(e.target.value)}
              slotProps={{ htmlInput: { "data-testid": `${testId}-${field}`, style: { fontFamily: "monospace", fontSize: 12 } } }}
              error={Boolean(errorFor(field))} helperText={errorFor(field) ?? helperText}
            />
          </>
        )}
      </ActionDialog>
    </>
  );
}
