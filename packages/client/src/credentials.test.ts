import { describe, expect, it } from "vitest";
import { channelCredentials, isLoopback, tokenCache, tokenExpiryMs } from "./credentials.js";

const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

describe("tokenExpiryMs", () => {
  it("reads exp from a JWT's payload, and nothing from anything else", () => {
    expect(tokenExpiryMs(jwt({ exp: 1_800_000_000, sub: "svc" }))).toBe(1_800_000_000_000);
    expect(tokenExpiryMs(jwt({ sub: "svc" }))).toBeUndefined();
    expect(tokenExpiryMs("opaque")).toBeUndefined();
    expect(tokenExpiryMs("a.%%%.c")).toBeUndefined();
  });
});

describe("tokenCache", () => {
  it("keeps a provider's token until a minute before its exp, then asks again once however many calls wait", async () => {
    let now = 1_000_000;
    let calls = 0;
    const provider = async () => jwt({ exp: (now + 300_000) / 1000, n: ++calls });
    const token = tokenCache(provider, { now: () => now });
    const first = await token();
    now += 200_000; // 100 s before exp
    expect(await token()).toBe(first);
    expect(calls).toBe(1);
    now += 45_000; // 55 s before exp: renew
    const [a, b, c] = await Promise.all([token(), token(), token()]);
    expect(calls).toBe(2);
    expect(new Set([a, b, c]).size).toBe(1);
    expect(a).not.toBe(first);
  });

  it("keeps a token shorter-lived than the refresh margin for half its life", async () => {
    let now = 1_000_000;
    let calls = 0;
    const token = tokenCache(async () => jwt({ exp: (now + 30_000) / 1000, n: ++calls }), { now: () => now });
    await token();
    now += 14_000;
    await token();
    expect(calls).toBe(1);
    now += 2_000;
    await token();
    expect(calls).toBe(2);
  });

  it("asks the provider on every call when its token has no exp, and again after a failure", async () => {
    let calls = 0;
    const token = tokenCache(async () => {
      calls++;
      if (calls === 2) throw new Error("vault down");
      return "opaque";
    });
    await token();
    await expect(token()).rejects.toThrow("vault down");
    expect(await token()).toBe("opaque");
    expect(calls).toBe(3);
  });

  it("sends a fixed token as it is", async () => {
    expect(await tokenCache("fixed")()).toBe("fixed");
  });
});

describe("channel security", () => {
  it("knows loopback addresses", () => {
    for (const address of ["127.0.0.1:50053", "localhost:50053", "[::1]:50053", "dns:///localhost:50053", "ipv4:127.0.0.2:1", "unix:/tmp/ledger.sock"]) expect(isLoopback(address), address).toBe(true);
    for (const address of ["10.0.0.5:50053", "ledger.internal:443", "dns:///ledger:443", "[2001:db8::1]:443", "127.example.com:1"]) expect(isLoopback(address), address).toBe(false);
  });

  it("uses TLS by default off loopback and refuses plaintext there", () => {
    expect(channelCredentials("ledger.internal:443", undefined)._isSecure()).toBe(true);
    expect(channelCredentials("127.0.0.1:50053", undefined)._isSecure()).toBe(false);
    expect(channelCredentials("127.0.0.1:50053", true)._isSecure()).toBe(true);
    expect(() => channelCredentials("ledger.internal:443", false)).toThrow(/refusing plaintext/);
  });
});
