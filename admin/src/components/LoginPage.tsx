import { Alert, Box, Button, Card, CardContent, Stack, TextField, Typography } from "@mui/material";
import { useState } from "react";
import { useLogin } from "react-admin";
import { signOutPending } from "../auth-provider";

/** Sign-in against the gateway (`POST /api/login`). */
export function TollgateLoginPage() {
  const login = useLogin();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      await login({ username, password });
    } catch (e) {
      setError(e instanceof Error ? e.message : "Sign-in failed");
      setPending(false);
    }
  };

  return (
    <Box sx={{ minHeight: "100vh", display: "flex", alignItems: "center", justifyContent: "center", bgcolor: "grey.100" }}>
      <Card sx={{ width: 360 }}>
        <CardContent>
          <Typography variant="h6" gutterBottom>
            Tollgate support console
          </Typography>
          <form onSubmit={submit} data-testid="login-form" aria-label="Sign in">
            <Stack spacing={2}>
              {signOutPending() && (
                <Alert severity="warning" data-testid="signout-pending">
                  A sign-out in this browser could not reach the server, so that session's token still works until it
                  expires. It is revoked when you sign in again.
                </Alert>
              )}
              {error && (
                <Alert severity="error" data-testid="login-error">
                  {error}
                </Alert>
              )}
              <TextField
                label="Username"
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                autoComplete="username"
                autoFocus
                required
                slotProps={{ htmlInput: { "data-testid": "login-username", name: "username" } }}
              />
              <TextField
                label="Password"
                type="password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                autoComplete="current-password"
                required
                slotProps={{ htmlInput: { "data-testid": "login-password", name: "password" } }}
              />
              <Button type="submit" variant="contained" disabled={pending} data-testid="login-submit">
                Sign in
              </Button>
            </Stack>
          </form>
        </CardContent>
      </Card>
    </Box>
  );
}
