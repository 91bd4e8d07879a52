import { Alert, Button, Stack } from "@mui/material";
import { useState } from "react";
import type { Banner } from "../api-types";
import { ActionDialog } from "../components/ActionDialog";
import { RESOURCES } from "../data-provider";
import { useRole, useTollgate } from "../hooks";

/** The account's in-app banners; an operator may dismiss the dismissible ones (with a reason). */
export function Banners({ banners }: { banners: Banner[] }) {
  const { canOperate } = useRole();
  const provider = useTollgate();
  const [dismissing, setDismissing] = useState<Banner | null>(null);
  if (banners.length === 0) return null;
  return (
    <Stack spacing={1} data-testid="account-banners">
      {banners.map((b) => (
        <Alert
          key={b.id}
          severity={b.kind === "fixed" ? "error" : "info"}
          data-testid={`banner-${b.id}`}
          data-kind={b.kind}
          action={
            b.kind === "dismissible" && canOperate ? (
              <Button color="inherit" size="small" onClick={() => setDismissing(b)}>
                Dismiss
              </Button>
            ) : undefined
          }
        >
          {b.message}
        </Alert>
      ))}
      <ActionDialog
        open={dismissing !== null}
        onClose={() => setDismissing(null)}
        title={`Dismiss banner "${dismissing?.message ?? ""}"`}
        testId="dismiss-banner"
        submitLabel="Dismiss"
        successMessage="Banner dismissed"
        onSubmit={(reason) => provider.dismissBanner(RESOURCES.accounts, { id: dismissing!.id, reason })}
      />
    </Stack>
  );
}
