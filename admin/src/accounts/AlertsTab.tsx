import Edit from "@mui/icons-material/Edit";
import { Alert, Button, Card, CardContent, CardHeader, Chip, LinearProgress, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Tooltip, Typography } from "@mui/material";
import { useState } from "react";
import { useRecordContext } from "react-admin";
import type { Account, AlertPreferences } from "../api-types";
import { ActionDialog } from "../components/ActionDialog";
import { RESOURCES } from "../data-provider";
import { useRole, useTollgate, useTollgateQuery } from "../hooks";
import { describeError } from "../http";

/** One address per line, or separated by commas or spaces. */
const addressesIn = (text: string): string[] => text.split(/[\s,;]+/).filter(Boolean);

/**
 * Where the account's alerts go (the notifications service's preferences):
 * who gets the emails (its own recipients, or else the account's admins),
 * the webhooks (each secret shown as its fingerprint) and the rules routed
 * to other channels than their defaults; an operator changes the email
 * recipients with a reason (audited). The delivery log of what was sent is
 * on the Notifications page.
 */
export function AlertsTab() {
  const account = useRecordContext<Account>();
  const accountId = account ? String(account.id) : "";
  const { canOperate } = useRole();
  const [editing, setEditing] = useState(false);
  const query = useTollgateQuery(["preferences", accountId], (p, signal) => p.getPreferences(RESOURCES.accounts, { accountId, signal }), Boolean(account));
  if (!account) return null;
  const preferences = query.data;
  const own = preferences?.email_recipients ?? [];
  const admins = account.admin_emails ?? [];
  const edit = (
    <Button size="small" startIcon={<Edit />} onClick={() => setEditing(true)} disabled={!canOperate || !preferences} data-testid="recipients-edit-button">
      Change recipients
    </Button>
  );
  return (
    <Stack spacing={2} sx={{ py: 1 }}>
      {query.isPending && <LinearProgress />}
      {query.isError && <Alert severity="error">{describeError(query.error).message}</Alert>}
      {preferences && (
        <>
          <Card variant="outlined" data-testid="alert-recipients">
            <CardHeader
              title="Alert emails go to"
              action={canOperate ? edit : <Tooltip title="Needs the operator role"><span>{edit}</span></Tooltip>}
              slotProps={{ title: { variant: "subtitle1" } }}
            />
            <CardContent sx={{ pt: 0 }}>
              <Stack direction="row" sx={{ flexWrap: "wrap", gap: 1 }} data-testid="alert-recipients-list">
                {(own.length > 0 ? own : admins).map((email) => (
                  <Chip key={email} label={email} size="small" />
                ))}
              </Stack>
              <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }} data-testid="alert-recipients-source">
                {own.length > 0
                  ? "The account's own recipients."
                  : admins.length > 0
                    ? "The account's admins (no recipients of its own are set)."
                    : "Nobody: the account has no admins and no recipients of its own, so alert emails are not sent."}
              </Typography>
            </CardContent>
          </Card>
          <Card variant="outlined" data-testid="alert-webhooks">
            <CardHeader title="Webhooks" slotProps={{ title: { variant: "subtitle1" } }} />
            <CardContent sx={{ pt: 0 }}>
              {preferences.webhooks.length === 0 ? (
                <Typography color="text.secondary">No webhooks: the account's product has registered none.</Typography>
              ) : (
                <Table size="small">
                  <TableHead>
                    <TableRow>
                      <TableCell>Endpoint</TableCell>
                      <TableCell>Signing secret</TableCell>
                    </TableRow>
                  </TableHead>
                  <TableBody>
                    {preferences.webhooks.map((w, index) => (
                      // Two webhooks may share an origin: the path that tells them apart is not shown.
                      <TableRow key={index}>
                        <TableCell sx={{ wordBreak: "break-all" }}>{w.url}</TableCell>
                        <TableCell sx={{ fontFamily: "monospace" }}>{w.secret_fingerprint}</TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              )}
            </CardContent>
          </Card>
          <Card variant="outlined" data-testid="alert-channels">
            <CardHeader title="Rules sent elsewhere than by default" slotProps={{ title: { variant: "subtitle1" } }} />
            <CardContent sx={{ pt: 0 }}>
              {Object.keys(preferences.channels_by_rule).length === 0 ? (
                <Typography color="text.secondary">None: every alert goes by its default channels.</Typography>
              ) : (
                <Table size="small">
                  <TableBody>
                    {Object.entries(preferences.channels_by_rule).map(([rule, channels]) => (
                      <TableRow key={rule}>
                        <TableCell>{rule}</TableCell>
                        <TableCell>{channels.length > 0 ? channels.join(", ") : "not sent"}</TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              )}
            </CardContent>
          </Card>
        </>
      )}
      {editing && preferences && <RecipientsDialog accountId={accountId} preferences={preferences} admins={admins} onClose={() => setEditing(false)} />}
    </Stack>
  );
}

function RecipientsDialog({ accountId, preferences, admins, onClose }: { accountId: string; preferences: AlertPreferences; admins: string[]; onClose: () => void }) {
  const provider = useTollgate();
  const [text, setText] = useState(preferences.email_recipients.join("\n"));
  // The API names a refused address by its place in the list.
  const fieldOf = (errorFor: (field: string) => string | undefined) =>
    errorFor("email_recipients") ?? addressesIn(text).map((_, i) => errorFor(`email_recipients[${i}]`)).find(Boolean);
  return (
    <ActionDialog
      open
      onClose={onClose}
      title={`Alert email recipients of ${accountId}`}
      testId="recipients"
      submitLabel="Save recipients"
      successMessage="Recipients saved"
      onSubmit={(reason, idempotencyKey) => provider.setEmailRecipients(RESOURCES.accounts, { accountId, email_recipients: addressesIn(text), reason, idempotencyKey })}
    >
      {(errorFor) => (
        <TextField
          label="Email addresses, one per line"
          value={text}
          onChange={(e) => setText(e.target.value)}
          multiline
          minRows={3}
          error={Boolean(fieldOf(errorFor))}
          helperText={fieldOf(errorFor) ?? `Empty: the account's admins${admins.length > 0 ? ` (${admins.join(", ")})` : ""}.`}
          slotProps={{ htmlInput: { "data-testid": "recipients-emails" } }}
        />
      )}
    </ActionDialog>
  );
}
