/**
 * TLS on every gRPC port (GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE) and on every
 * process's calls to the services (GRPC_TLS_CA_FILE): the four services serve
 * test/tls's certificate, the ledger and notifications call the others over
 * TLS, and so does the gateway.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "@tollgate/gateway";
import { call, createClient, ROLES } from "@tollgate/grpc-kit";
import { ledgerV1, notificationsV1 } from "@tollgate/proto";
import { createTestDatabase, type TestDatabase } from "@tollgate/testing";
import { replies, seedStarter } from "./fixtures.js";
import { startPlatform, TEST_TLS, type Platform } from "./platform.js";

let db: TestDatabase;
let platform: Platform;
let gateway: Gateway;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = await startPlatform(db.url, { tls: true });
  await seedStarter(platform, "acme");
  gateway = await startGateway({
    databaseUrl: db.url, port: 0, secret: "a-test-secret-that-is-long-enough-0123456789", users: "ada:admin-pass:admin",
    ...platform.serviceCredentials("gateway", ROLES), channelTls: TEST_TLS.channel,
    addresses: platform.addresses,
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await platform?.stop();
  await db?.drop();
});

describe("gRPC over TLS", () => {
  it("authorizes and charges through a ledger that prices and reads plans over TLS", async () => {
    const { ledger } = platform.clients;
    const hold = await call(ledger, ledger.authorize, ledgerV1.AuthorizeRequest.fromPartial({ accountId: "acme", estimate: replies("gpt-4o", 1), idempotencyKey: "tls-hold" }));
    expect(hold.allowed).toBe(true);
    const charged = await call(ledger, ledger.charge, ledgerV1.ChargeRequest.fromPartial({ accountId: "acme", holdId: hold.holdId, usage: replies("gpt-4o", 1), final: true, idempotencyKey: "tls-charge" }));
    expect(charged.chargedMicros).toBe(String(5_000_000));
    const { notifications } = platform.clients;
    expect(await call(notifications, notifications.getPreferences, notificationsV1.GetPreferencesRequest.fromPartial({ accountId: "acme" }))).toMatchObject({ preferences: { accountId: "acme" } });
  });

  it("serves the console's API through a gateway that calls the services over TLS", async () => {
    const login = await fetch(`${gateway.url}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "ada", password: "admin-pass" }) });
    const { token } = (await login.json()) as { token: string };
    const account = await fetch(`${gateway.url}/api/accounts/acme`, { headers: { authorization: `Bearer ${token}` } });
    expect(account.status).toBe(200);
    expect(((await account.json()) as { id: string }).id).toBe("acme");
  });

  it("answers no plaintext client: a call without TLS is UNAVAILABLE and reaches no handler", async () => {
    const plaintext = createClient(ledgerV1.LedgerServiceClient, platform.ledger.address, platform.serviceCredentials("probe", ROLES));
    const refused = await call(plaintext, plaintext.getBalance, { accountId: "acme" }, { deadlineMs: 3_000 }).then(() => undefined, (e: { code?: number }) => e.code);
    expect(refused === 14 || refused === 4).toBe(true); // UNAVAILABLE, or DEADLINE_EXCEEDED while the handshake fails
    plaintext.close();
  });

  it("stops a service at boot that names a certificate without its key, or a file that is not PEM, naming the variable", () => {
    const boot = (env: Record<string, string>) =>
      spawnSync(process.execPath, ["--import", "tsx", "services/pricing/src/main.ts"], {
        env: { PATH: process.env.PATH ?? "", DATABASE_URL: db.url, AUTH_DISABLED: "true", PRICING_PORT: "0", ...env },
        encoding: "utf8", timeout: 30_000,
      });
    const certOnly = boot({ GRPC_TLS_CERT_FILE: "test/tls/service.crt" });
    expect(certOnly.status).not.toBe(0);
    expect(certOnly.stderr + certOnly.stdout).toContain("GRPC_TLS_KEY_FILE");
    const notPem = boot({ GRPC_TLS_CERT_FILE: "test/tls/README.md", GRPC_TLS_KEY_FILE: "test/tls/service.key" });
    expect(notPem.status).not.toBe(0);
    expect(notPem.stderr + notPem.stdout).toMatch(/GRPC_TLS_CERT_FILE.*not PEM/);
    // A key, but not the certificate's.
    const otherKey = join(mkdtempSync(join(tmpdir(), "tollgate-tls-")), "other.key");
    writeFileSync(otherKey, generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }));
    const mismatched = boot({ GRPC_TLS_CERT_FILE: "test/tls/service.crt", GRPC_TLS_KEY_FILE: otherKey });
    expect(mismatched.status).not.toBe(0);
    expect(mismatched.stderr + mismatched.stdout).toContain("GRPC_TLS_KEY_FILE: is not the key of GRPC_TLS_CERT_FILE's certificate");
  });
});
