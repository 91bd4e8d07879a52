import { Alert, Button, Stack } from "@mui/material";
import { useState } from "react";
import type { Banner } from "../api-types";
import { ActionDialog } from "../components/ActionDialog";
import { RESOURCES } from "../data-provider";
import { useRole, useTollgate } from "../hooks";
import { orderBanners } from "./banner-order";

/** The account's in-app banners; an operator may dismiss the dismissible ones (with a reason). */
export function Banners({ banners }: { banners: Banner[] }) {
  const { canOperate } = useRole();
  const provider = useTollgate();
  const [dismissing, setDismissing] = useState<Banner | null>(null);
  const [showEarlier, setShowEarlier] = useState(false);
  if (banners.length === 0) return null;
  const { shown, earlier } = orderBanners(banners);
  return (
    <Stack spacing={1} data-testid="account-banners">
      {[...shown, ...(showEarlier ? earlier : [])].map((b) => (
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
      {earlier.length > 0 && (
        <Button size="small" sx={{ alignSelf: "flex-start" }} onClick={() => setShowEarlier(!showEarlier)} data-testid="earlier-banners">
          {showEarlier ? "Hide earlier banners" : `${earlier.length} earlier banner${earlier.length === 1 ? "" : "s"} not dismissed`}
        </Button>
      )}
      <ActionDialog
        open={dismissing !== null}
        onClose={() => setDismissing(null)}
        title={`Dismiss banner "${dismissing?.message ?? ""}"`}
        testId="dismiss-banner"
        target={dismissing?.id ?? ""}
        submitLabel="Dismiss"
        successMessage="Banner dismissed"
        onSubmit={(reason, idempotencyKey) => provider.dismissBanner(RESOURCES.accounts, { id: dismissing!.id, reason, idempotencyKey })}
      />
    </Stack>
  );
}
