import { createServer, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNetworks } from "@tollgate/config";
import { OutboundAddressPolicy } from "./outbound-address.js";
import { WebhookChannel } from "./webhook.js";

const SECRET = `whsec_${Buffer.from("a-webhook-secret-for-the-tests").toString("base64")}`;
const message = (url: string) => ({ url, secret: SECRET, id: "msg_1", type: "usage.threshold", data: { percent: 50 } });

describe("where webhooks may go", () => {
  it("refuses loopback, private, link-local and reserved addresses, mapped IPv6 included, unless allowed", () => {
    const policy = new OutboundAddressPolicy();
    for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700::1111"]) expect(policy.permits(address), address).toBe(true);
    for (const address of ["127.0.0.1", "10.2.3.4", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:a9fe:a9fe"]) {
      expect(policy.permits(address), address).toBe(false);
    }
    // The IPv6 forms that reach an IPv4 address through a translator or a tunnel, and the discard-only range.
    for (const address of [
      "::127.0.0.1", "::7f00:1", "::a9fe:a9fe", // IPv4-compatible
      "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::808:808", // NAT64, public addresses included: reach them by IPv4
      "64:ff9b:1::a00:1", "64:ff9b:1:ffff::1", // NAT64 for local use
      "2002:7f00:1::1", "2002:a9fe:a9fe::", // 6to4
      "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
      "100::1", "100::ffff:ffff:ffff:ffff", // discard-only
    ]) {
      expect(policy.permits(address), address).toBe(false);
    }
    // Their neighbours are ordinary addresses.
    for (const address of ["::ffff:8.8.8.8", "64:ff9b:0:0:1::1", "64:ff9b:2::1", "100:0:0:1::1", "2001:4860:4860::8888", "2003::1"]) {
      expect(policy.permits(address), address).toBe(true);
    }
    expect(policy.refusesLiteral(new URL("http://[64:ff9b::7f00:1]/hook"))).toMatch(/64:ff9b::7f00:1 is a loopback, private, link-local or reserved address/);
    const allowing = new OutboundAddressPolicy(["127.0.0.0/8", "10.1.0.0/16"]);
    expect(["127.0.0.1", "::ffff:127.0.0.1", "10.1.9.9"].map((a) => allowing.permits(a))).toEqual([true, true, true]);
    expect(["10.2.0.1", "169.254.169.254"].map((a) => allowing.permits(a))).toEqual([false, false]);
    expect(() => parseNetworks("127.0.0.0/8,not-an-address")).toThrow(/not-an-address/);
    expect(() => parseNetworks("10.0.0.0/40")).toThrow(/10.0.0.0\/40/);
  });

  it("refuses at save time a name of this host however it is spelled, and lets other names through to the connection-time check", () => {
    const policy = new OutboundAddressPolicy();
    for (const url of ["http://localhost/x", "http://LOCALHOST/x", "http://localhost./x", "http://localhost../x", "http://api.localhost./x", "http://127.1/x"]) {
      expect(policy.refusesHost(new URL(url)), url).toBeDefined();
    }
    expect(policy.refusesHost(new URL("https://hooks.example.com./x"))).toBeUndefined();
    expect(new OutboundAddressPolicy(["127.0.0.0/8"]).refusesHost(new URL("http://localhost./x")), "allowed when loopback is").toBeUndefined();
  });
});

describe("the webhook channel", () => {
  let server: Server;
  let base: string;
  const received: { path: string; headers: Record<string, unknown>; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        received.push({ path: request.url!, headers: request.headers, body });
        if (request.url === "/moved") response.writeHead(302, { location: `${base}/target` }).end();
        else response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("does not reach this host by default, by address or by name", async () => {
    const channel = new WebhookChannel();
    const port = new URL(base).port;
    await expect(channel.send(message(`${base}/hook`))).rejects.toThrow(/127\.0\.0\.1 is a loopback, private, link-local or reserved address/);
    // A name's error (the delivery's last_error, which whoever set the webhook reads) says what kind of address it
    // resolved to, not which.
    const byName = await channel.send(message(`http://localhost:${port}/hook`)).then(() => undefined, (e: Error) => e.message);
    expect(byName).toBe("webhook host localhost resolves to a loopback, private, link-local or reserved address");
    await expect(channel.send(message(`http://[::ffff:127.0.0.1]:${port}/hook`))).rejects.toThrow(/loopback/);
    await expect(channel.send(message("http://169.254.169.254/latest/meta-data/"))).rejects.toThrow(/169\.254\.169\.254/);
    await expect(channel.send(message(`file:///etc/passwd`))).rejects.toThrow(/scheme file:/);
    expect(received).toEqual([]);
  });

  it("delivers a signed event to an allowed network", async () => {
    const channel = new WebhookChannel({ allowedNetworks: ["127.0.0.0/8"] });
    await channel.send(message(`${base}/hook`));
    expect(received).toHaveLength(1);
    const [delivery] = received.splice(0);
    const verified = new Webhook(SECRET).verify(delivery!.body, delivery!.headers as Record<string, string>) as { data: unknown };
    expect(verified.data).toEqual({ percent: 50 });
  });

  it("does not follow a redirect", async () => {
    const channel = new WebhookChannel({ allowedNetworks: ["127.0.0.0/8"] });
    await expect(channel.send(message(`${base}/moved`))).rejects.toThrow("HTTP 302 from 127.0.0.1:" + new URL(base).port + " (redirects are not followed)");
    expect(received.map((r) => r.path)).toEqual(["/moved"]);
  });

  it("gives up on a receiver that trickles its answer when the deadline passes, not when it goes quiet", async () => {
    // Headers at once, then a byte every 50 ms: never idle long enough for an idle timeout, never done.
    const trickling = createServer((request, response) => {
      request.resume();
      response.writeHead(200, { "content-type": "text/plain" });
      const drip = setInterval(() => response.write("."), 50);
      response.on("close", () => clearInterval(drip));
    });
    await new Promise<void>((resolve) => trickling.listen(0, "127.0.0.1", resolve));
    const host = `127.0.0.1:${(trickling.address() as { port: number }).port}`;
    try {
      const channel = new WebhookChannel({ allowedNetworks: ["127.0.0.0/8"], timeoutMs: 300 });
      const started = Date.now();
      await expect(channel.send(message(`http://${host}/hook`))).rejects.toThrow(`no complete answer from ${host} within 300 ms`);
      const tookMs = Date.now() - started;
      expect(tookMs).toBeGreaterThanOrEqual(290);
      expect(tookMs).toBeLessThan(1_500);
    } finally {
      trickling.closeAllConnections();
      await new Promise<void>((resolve) => trickling.close(() => resolve()));
    }
  });
});
