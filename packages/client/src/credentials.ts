import { credentials, InterceptingCall, status, type ChannelCredentials, type Interceptor } from "@grpc/grpc-js";
import { clientStatus } from "./errors.js";

/** A bearer JWT: a fixed token, or a function returning one (called again before the token it gave expires). */
export type TokenSource = string | (() => string | Promise<string>);

/** TLS for the channel: `true` for the system's roots, or the PEM material to use. */
export type TlsOptions = boolean | { rootCerts?: Buffer; privateKey?: Buffer; certChain?: Buffer };

/** The `exp` claim of a JWT in ms since the epoch; undefined when it has none or is not a JWT. The signature is the server's business. */
export function tokenExpiryMs(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A token for each call from a token source: a provider's token is kept
 * until `refreshBeforeMs` before its `exp` (or half its remaining life, if
 * that is later), then the provider is asked again (once, however many calls
 * are waiting). A token without `exp` is not kept.
 */
export function tokenCache(source: TokenSource, options: { refreshBeforeMs?: number; now?: () => number } = {}): () => Promise<string> {
  if (typeof source === "string") {
    const token = Promise.resolve(source);
    return () => token;
  }
  const refreshBeforeMs = options.refreshBeforeMs ?? 60_000;
  const now = options.now ?? Date.now;
  let current: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;
  return () => {
    if (current && current.renewAt > now()) return Promise.resolve(current.token);
    pending ??= Promise.resolve()
      .then(source)
      .then((token) => {
        const exp = tokenExpiryMs(token);
        // A short-lived token is kept for half its remaining life at least, so it is not fetched on every call.
        current = exp === undefined ? undefined : { token, renewAt: Math.max(exp - refreshBeforeMs, now() + (exp - now()) / 2) };
        return token;
      })
      .finally(() => (pending = undefined));
    return pending;
  };
}

/** Whether an address (`host:port`, `[v6]:port`, `dns:///host:port`, `unix:…`) is this machine. */
export function isLoopback(address: string): boolean {
  if (address.startsWith("unix:")) return true;
  // grpc-js targets: dns:[//authority/]host:port, ipv4:host:port, ipv6:[host]:port, or a bare host:port.
  const target = address.replace(/^(dns|ipv4|ipv6):(\/\/[^/]*\/)?/i, "");
  const host = target.startsWith("[") ? target.slice(1, target.indexOf("]")) : target.split(":")[0]!;
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The channel's credentials. Without `tls` set, TLS is used unless the
 * address is loopback; plaintext to another host is refused, since every
 * call carries a bearer token.
 */
export function channelCredentials(address: string, tls: TlsOptions | undefined): ChannelCredentials {
  const useTls = tls ?? !isLoopback(address);
  if (!useTls) {
    if (!isLoopback(address)) throw new TypeError(`refusing plaintext to ${address}: bearer tokens would travel in clear (use TLS, or a loopback address)`);
    return credentials.createInsecure();
  }
  const pem = typeof useTls === "object" ? useTls : {};
  return credentials.createSsl(pem.rootCerts ?? null, pem.privateKey ?? null, pem.certChain ?? null);
}

/** Adds `authorization: Bearer …` (and `x-tollgate-on-behalf-of`) to every call; a token that cannot be had fails the call UNAUTHENTICATED. */
export function bearerInterceptor(token: () => Promise<string>, onBehalfOf?: string): Interceptor {
  return (callOptions, nextCall) =>
    new InterceptingCall(nextCall(callOptions), {
      start(metadata, listener, next) {
        // A name a text header can carry (printable ASCII) as text, any other as UTF-8 bytes in the `-bin` header, as the services read it (grpc-kit's guard).
        if (onBehalfOf) {
          if (/^[\x20-\x7e]*$/.test(onBehalfOf)) metadata.set("x-tollgate-on-behalf-of", onBehalfOf);
          else metadata.set("x-tollgate-on-behalf-of-bin", Buffer.from(onBehalfOf, "utf8"));
        }
        token().then(
          (value) => {
            metadata.set("authorization", `Bearer ${value}`);
            next(metadata, listener);
          },
          (error: unknown) =>
            listener.onReceiveStatus?.(
              clientStatus(status.UNAUTHENTICATED, `could not get a credential: ${error instanceof Error ? error.message : String(error)}`, "CREDENTIAL_UNAVAILABLE"),
            ),
        );
      },
    });
}
