import type {
  Metadata,
  sendUnaryData,
  ServerDuplexStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "@tollgate/errors";
import { log } from "@tollgate/telemetry";
import { accessOf, type Access } from "./access.js";
import { peerAddress, recordCall, recordRefusal, type CallAudit } from "./audit.js";
import type { Principal, TokenVerifier } from "./credentials.js";
import { toServiceError } from "./errors.js";
import { RateLimitedError, rateLimitedError, type RateLimiter } from "./rate-limit.js";
import { isActorName, MAX_ACTOR_LENGTH } from "./validation.js";

/** Verified credentials, or (loopback only, said explicitly) no checks at all. */
export type ServerAuth = { verifier: TokenVerifier } | { disabled: true };

/**
 * The rate limits a server applies: `calls` per principal (per peer address
 * with authentication off); `refusals`, calls refused for want of a valid
 * credential, per peer address. Once an address has used up its refusals,
 * its calls are answered RESOURCE_EXHAUSTED before any token is verified or
 * any refusal recorded, so a flood of bad tokens costs neither signature
 * checks nor audit writes. A token verified before still passes (its caller
 * may share the address); one not seen yet waits the RetryInfo's delay.
 */
export interface Limiters {
  calls?: RateLimiter;
  refusals?: RateLimiter;
}

export const ON_BEHALF_OF = "x-tollgate-on-behalf-of";
/** The same, as UTF-8 bytes: for a name a text header cannot carry. */
const ON_BEHALF_OF_BIN = `${ON_BEHALF_OF}-bin`;

/**
 * Names the person a call acts for: in `x-tollgate-on-behalf-of` when a text
 * header can carry the name (printable ASCII, as always), else as UTF-8 in
 * `x-tollgate-on-behalf-of-bin` (`zoë`, which grpc-js refuses in a text header).
 */
export function setOnBehalfOf(metadata: Metadata, name: string): void {
  if (/^[\x20-\x7e]*$/.test(name)) metadata.set(ON_BEHALF_OF, name);
  else metadata.set(ON_BEHALF_OF_BIN, Buffer.from(name, "utf8"));
}

/** The person a call says it acts for, from either header. */
function onBehalfOfIn(metadata: Metadata): string | undefined {
  const bytes = metadata.get(ON_BEHALF_OF_BIN)[0];
  return first(metadata, ON_BEHALF_OF) ?? (Buffer.isBuffer(bytes) && bytes.length > 0 ? bytes.toString("utf8") : undefined);
}

const principals = new WeakMap<object, Principal>();

/** The principal a call was authenticated as (undefined when authentication is off). */
export function principalOf(call: object): Principal | undefined {
  return principals.get(call);
}

function first(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function checkAccount(access: Access, principal: Principal, request: Record<string, unknown>, method: string): void {
  if (!principal.accounts || access.scope === "catalogue") return;
  if (access.scope === "all") {
    throw new PermissionDeniedError(`${method} is not open to a credential limited to some accounts`, "ACCOUNT_LIMITED_CREDENTIAL", {});
  }
  const account = (access.account ?? ((r) => r.accountId))(request);
  if (typeof account !== "string" || account === "") {
    throw new PermissionDeniedError(`a credential limited to some accounts must name one: account_id is empty`, "ACCOUNT_NOT_PERMITTED", { account_id: "" });
  }
  if (!principal.accounts.includes(account)) {
    throw new PermissionDeniedError(`the credential is not valid for account '${account}'`, "ACCOUNT_NOT_PERMITTED", { account_id: account });
  }
}

/**
 * Checks one call before its handler: the RPC must be in the access table
 * (default deny), the bearer credential valid, one of the RPC's roles held,
 * the account within the credential's, and an on-behalf-of header sent only
 * by a `service` principal.
 */
async function authorize(
  path: string,
  call: ServerUnaryCall<unknown, unknown>,
  auth: ServerAuth,
  { calls: limiter, refusals }: Limiters,
  seen: { principal?: Principal },
  /** A bidirectional stream has no request yet: the accounts its messages name are checked as they arrive (`admitMessage`). */
  deferAccount = false,
): Promise<Principal | undefined> {
  const method = path.slice(path.lastIndexOf("/") + 1);
  const access = accessOf(path);
  if (!access) throw new PermissionDeniedError(`${method} is not open to any role`, "RPC_NOT_PERMITTED", {});
  if ("disabled" in auth) {
    limit(limiter, call.getPeer());
    return undefined;
  }
  const header = first(call.metadata, "authorization");
  // The scheme is case-insensitive (RFC 9110 §11.1).
  const token = header && /^bearer +/i.test(header) ? header.replace(/^bearer +/i, "").trim() : undefined;
  const address = peerAddress(call);
  const waitMs = refusals?.waitFor(address) ?? 0;
  // A token verified before still passes: its caller may share the address with the flood (a NAT, an ingress).
  if (waitMs > 0 && !(token !== undefined && auth.verifier.knows?.(token))) {
    throttled(address, waitMs);
    throw new RateLimitedError(`address:${address}`, waitMs);
  }
  let principal: Principal;
  try {
    if (token === undefined) throw new UnauthenticatedError("a credential is required: send 'authorization: Bearer <token>'", "CREDENTIAL_REQUIRED");
    principal = await auth.verifier.verify(token);
  } catch (error) {
    refusals?.take(address);
    throw error;
  }
  seen.principal = principal;
  limit(limiter, principal.name);
  if (!access.roles.some((role) => principal.roles.includes(role))) {
    const needed = access.roles.join(" or ");
    throw new PermissionDeniedError(`${method} needs the ${needed} role; ${principal.name} has ${principal.roles.join(", ") || "no role"}`, "ROLE_REQUIRED", {
      role: access.roles.join(","),
    });
  }
  if (!deferAccount || access.scope !== "account") checkAccount(access, principal, (call.request ?? {}) as Record<string, unknown>, method);
  const onBehalfOf = onBehalfOfIn(call.metadata);
  if (onBehalfOf !== undefined) {
    if (!principal.roles.includes("service")) {
      throw new PermissionDeniedError(`only a service may act on behalf of someone (${ON_BEHALF_OF})`, "ON_BEHALF_OF_NOT_PERMITTED", { role: "service" });
    }
    // Recorded beside the actor (the journal, the audit log) and shown in the console, as the principal's own name is.
    if (!isActorName(onBehalfOf)) {
      throw new InvalidArgumentError(ON_BEHALF_OF, `must name the person: at most ${MAX_ACTOR_LENGTH} characters, no control or bidirectional characters`);
    }
    principal = { ...principal, onBehalfOf };
  }
  return principal;
}

/** When each throttled address was last logged: once a minute each, so a flood is seen without flooding the log. */
const throttleLogged = new Map<string, number>();

function throttled(address: string, retryAfterMs: number): void {
  const now = Date.now();
  if ((throttleLogged.get(address) ?? 0) > now - 60_000) return;
  if (throttleLogged.size >= 10_000) throttleLogged.clear();
  throttleLogged.set(address, now);
  log().warn({ address, retry_after_ms: retryAfterMs }, "refusing calls from an address past its refused-call limit (bad or missing credentials)");
}

function limit(limiter: RateLimiter | undefined, caller: string): void {
  const taken = limiter?.take(caller);
  if (taken && !taken.allowed) throw new RateLimitedError(caller, taken.retryAfterMs);
}

/** Bidirectional streams admitted by role, whose messages' accounts are checked as they arrive. */
const streams = new WeakMap<object, { access: Access; principal: Principal; method: string }>();

/** Bidirectional streams under a rate limit: the caller whose bucket each message after the first draws from. */
const metered = new WeakMap<object, { limiter: RateLimiter; caller: string; first: boolean }>();

/**
 * Checks one message of a bidirectional stream against the credential's
 * accounts: a message that names an account (the access entry's `account`)
 * must name one of them. Throws PERMISSION_DENIED otherwise. Under a rate
 * limit, each message after the first is a call of its own (a Meter
 * increment costs what a Charge costs; the first was counted when the stream
 * was admitted): an empty bucket throws RateLimitedError, which ends the
 * stream with RESOURCE_EXHAUSTED and a RetryInfo, as a unary call is answered.
 */
export function admitMessage(call: object, message: Record<string, unknown>): void {
  const limited = metered.get(call);
  if (limited) {
    if (limited.first) limited.first = false;
    else limit(limited.limiter, limited.caller);
  }
  const admitted = streams.get(call);
  if (!admitted || !admitted.principal.accounts) return;
  if ((admitted.access.account ?? ((r) => r.accountId))(message) === undefined) return;
  checkAccount(admitted.access, admitted.principal, message, admitted.method);
}

/** The status a refused call or stream ends with: RESOURCE_EXHAUSTED with a RetryInfo for a rate limit, else the usual mapping. */
export const refusal = (error: unknown, traceId?: () => string) =>
  error instanceof RateLimitedError ? rateLimitedError(error.caller, error.retryAfterMs) : toServiceError(error, traceId);

/**
 * Wraps every handler of a service so it runs only after `authorize` admits
 * the call (and, with a limiter, the caller has calls left). With an audit
 * log, calls the access table marks `audited` are written to it after their
 * handler answers, and refused calls are counted in it, before the caller
 * hears back.
 */
export function guardService(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
  auth: ServerAuth,
  limiters: Limiters = {},
  audit?: CallAudit,
): UntypedServiceImplementation {
  const guarded: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = implementation[name];
    if (!handler) continue;
    const access = accessOf(method.path);
    const refuse = async (call: ServerUnaryCall<unknown, unknown>, seen: { principal?: Principal }, error: unknown) => {
      if (audit) await recordRefusal(audit, method.path, access, call, seen.principal, error);
      return refusal(error);
    };
    if (method.requestStream && !method.responseStream) throw new Error(`${method.path}: client streams are not supported by the access check`);
    if (method.requestStream) {
      const duplex = handler as (call: ServerDuplexStream<unknown, unknown>) => void;
      guarded[name] = ((call: ServerDuplexStream<unknown, unknown>) => {
        const asUnary = call as unknown as ServerUnaryCall<unknown, unknown>;
        const seen: { principal?: Principal } = {};
        authorize(method.path, asUnary, auth, limiters, seen, true).then(
          (principal) => {
            if (principal) {
              principals.set(call, principal);
              streams.set(call, { access: access!, principal, method: method.path.slice(method.path.lastIndexOf("/") + 1) });
            }
            if (limiters.calls) metered.set(call, { limiter: limiters.calls, caller: principal?.name ?? call.getPeer(), first: true });
            duplex(call);
          },
          (error: unknown) => void refuse(asUnary, seen, error).then((refused) => call.emit("error", refused)),
        );
      }) as UntypedHandleCall;
    } else if (method.responseStream) {
      const stream = handler as (call: ServerWritableStream<unknown, unknown>) => void;
      guarded[name] = ((call: ServerWritableStream<unknown, unknown>) => {
        const asUnary = call as unknown as ServerUnaryCall<unknown, unknown>;
        const seen: { principal?: Principal } = {};
        authorize(method.path, asUnary, auth, limiters, seen).then(
          (principal) => {
            if (principal) principals.set(call, principal);
            stream(call);
          },
          (error: unknown) => void refuse(asUnary, seen, error).then((refused) => call.emit("error", refused)),
        );
      }) as UntypedHandleCall;
    } else {
      const unary = handler as (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;
      const audited = audit && access?.audited ? { audit, access } : undefined;
      guarded[name] = ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const seen: { principal?: Principal } = {};
        authorize(method.path, call, auth, limiters, seen).then(
          (principal) => {
            if (principal) principals.set(call, principal);
            if (!audited) return unary(call, callback);
            unary(call, (error, response) => {
              void recordCall(audited.audit, method.path, audited.access, call, principal, error, response).then(() => callback(error, response));
            });
          },
          (error: unknown) => void refuse(call, seen, error).then((refused) => callback(refused)),
        );
      }) as UntypedHandleCall;
    }
  }
  return guarded;
}
