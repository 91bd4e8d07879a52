import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync } from "node:fs";
import { relative, sep } from "node:path";
import cors from "@fastify/cors";
import rateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { jwtVerify } from "jose";
import { CallAuditLog, connectionPool, openDatabase } from "@tollgate/db";
import { PermissionDeniedError, UnauthenticatedError } from "@tollgate/errors";
import { RequestContext } from "@mikro-orm/core";
import { createClient, isAccountId, isActorName, RateLimiter, REFUSAL_LIMIT, stopInOrder, type ChannelTls, type ClientOptions, type Credential, type RateLimit } from "@tollgate/grpc-kit";
import { entitlementsV1, ledgerV1, notificationsV1, pricingV1 } from "@tollgate/proto";
import { currentTraceId, log, startMetrics } from "@tollgate/telemetry";
import { AuditEntrySchema } from "./data/audit.entity.js";
import { PostgresAuditStore } from "./data/audit-store.js";
import { loginAttemptStore } from "./data/login-attempts.js";
import { migrations } from "./data/migrations/index.js";
import { isRole, UserDirectory, type User } from "./domain/access.js";
import { dropIncomingTraceContext, methodsByPath, notFound, readJsonBody, timesGiven } from "./transport/framework.js";
import { clientErrorAnswer, sendHttpError, tooManyRequests, toHttpError } from "./transport/http-errors.js";
import { RevokedTokens } from "./data/revoked-tokens.js";
import { CONSOLE_TOKEN, DEFAULT_LOGIN_LIMITS, registerLogin, registerLogout, signInUnavailable, tokenIdOf, type LoginLimits, type SignedIn } from "./transport/login.js";
import { registerReceiptRoutes } from "./transport/receipt-routes.js";
import { checkRoute, registerRoutes } from "./transport/routes.js";

export { DEMO_USERS, withDemoUsers } from "./domain/access.js";
export { DEFAULT_LOGIN_LIMITS, type LoginLimits } from "./transport/login.js";

export interface GatewayOptions {
  databaseUrl: string;
  port: number;
  host?: string;
  addresses: { entitlements: string; pricing: string; ledger: string; notifications: string };
  /** HS256 secret for console tokens (a host back office may mint tokens with it). */
  secret: string;
  /** `name:password:role,…` */
  users: string;
  /** Built console to serve at `/` (admin/dist). */
  staticDir?: string;
  /** Origins whose pages may call the API (CORS); none by default: only the console served from the gateway itself. */
  corsOrigins?: string[];
  /**
   * The reverse proxies in front of the gateway (addresses or networks): from these, the client's address is read from
   * `X-Forwarded-For` (sign-in limits, the audit log); from any other peer the header is ignored. Empty: none.
   */
  trustedProxies?: string[];
  /**
   * Take W3C trace context (`traceparent`, `tracestate`, `baggage`) from incoming requests, as from a tracing ingress in front.
   * Unset: every request starts its own trace, since a caller on the open network would otherwise choose its trace id and join
   * another flow's (search and receipts find by trace id).
   */
  trustTraceContext?: boolean;
  /** How long a request's headers and body may take to arrive (default 30 s); then 408 and the connection closes. */
  requestTimeoutMs?: number;
  /** Lifetime of the tokens `/api/login` issues (every token must carry `exp`). */
  tokenTtl?: string;
  /** How far ahead any token's `exp` may be, in hours (default 24): a minted token that lives longer is refused, so a leaked one stops working in bounded time. */
  maxTokenHours?: number;
  loginLimits?: LoginLimits;
  /** Requests refused for want of a valid token or the role, per client address (default REFUSAL_LIMIT, as the services'). */
  refusalLimit?: RateLimit;
  /** The gateway's own credential on its gRPC calls (a `service` principal holding every role). */
  credentials?: Credential;
  /** TLS on its gRPC calls: the CA certificates the services' certificates are checked against (unset: plaintext). */
  channelTls?: ChannelTls;
  /** Port of the Prometheus endpoint (`/metrics`); 0 (the default) picks a free one. */
  metricsPort?: number;
}

/** How far ahead a console token's expiry may be unless GATEWAY_MAX_TOKEN_HOURS says otherwise (the gateway's own last 12 hours). */
export const DEFAULT_MAX_TOKEN_HOURS = 24;
/** How long a sign-in lasts: 12 hours, or GATEWAY_MAX_TOKEN_HOURS when that is less. */
const SIGN_IN_HOURS = 12;

export interface Gateway {
  url: string;
  metrics: { url: string };
  app: FastifyInstance;
  stop(): Promise<void>;
}

/**
 * The Content-Security-Policy of every answer, the console's pages included.
 * Scripts come only from the gateway's own files: a script or event handler
 * injected through a stored value does not run, so it cannot read the token
 * the console keeps in localStorage. Styles may also be inline (MUI writes
 * <style> elements), images also data: URLs; requests go only to the
 * gateway; never framed by another site, no <base>, no plugins.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * A refused console request (401, 403) is counted in the platform's audit log, per user (or address), route and minute;
 * a refused sign-in per address and the user name it tried (when that could be a name).
 */
async function recordRefusal(calls: CallAuditLog, request: FastifyRequest, status: number, error: UnauthenticatedError | PermissionDeniedError): Promise<void> {
  const user = (request as FastifyRequest & { user?: User }).user;
  // A refused sign-in: as the configured user it tried, or as no user of ours (what was typed is not kept).
  const tried = error.reason === "LOGIN_FAILED" ? error.metadata.username : undefined;
  const as = tried === undefined ? "" : isActorName(tried) ? ` as ${tried}` : " as an unknown user";
  const address = `address:${request.ip}${as}`;
  const route = request.routeOptions.url ?? request.url;
  // Only what could be an account's id: a longer or odd one names no account, and would only bloat (or break) the row.
  const id = route.startsWith("/api/accounts/:id") ? (request.params as { id?: string }).id : undefined;
  const accountId = id !== undefined && isAccountId(id) ? id : undefined;
  await calls
    .refused({
      rpc: `${request.method} ${route}`,
      principal: user ? user.username : address,
      roles: user ? [user.role] : [],
      accountId,
      traceId: currentTraceId(),
      outcome: `HTTP ${status}`,
    })
    .catch((failure: unknown) => log().error({ err: failure }, "could not record a refused request"));
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const orm = await openDatabase({ url: options.databaseUrl, schema: "gateway", entities: [AuditEntrySchema], migrations, poolMax: 4 });
  const audit = new PostgresAuditStore(() => orm.em.getContext());
  const revokedTokens = new RevokedTokens(() => orm.em.getContext());
  // The services' audit of admin and refused gRPC calls, shown beside the console's own.
  const calls = await CallAuditLog.open(options.databaseUrl);
  const users = new UserDirectory(options.users);
  const key = new TextEncoder().encode(options.secret);
  // Every gRPC call carries the gateway's credential and names the signed-in console user it acts for.
  const consoleUser = new AsyncLocalStorage<{ username?: string }>();
  const clientOptions: ClientOptions = {
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.channelTls ? { channelTls: options.channelTls } : {}),
    onBehalfOf: () => consoleUser.getStore()?.username,
  };
  const clients = {
    entitlements: createClient(entitlementsV1.EntitlementsServiceClient, options.addresses.entitlements, clientOptions),
    pricing: createClient(pricingV1.PricingServiceClient, options.addresses.pricing, clientOptions),
    ledger: createClient(ledgerV1.LedgerServiceClient, options.addresses.ledger, clientOptions),
    notifications: createClient(notificationsV1.NotificationsServiceClient, options.addresses.notifications, clientOptions),
  };

  const telemetry = await startMetrics({
    serviceName: "tollgate-gateway",
    port: options.metricsPort ?? 0,
    ...(options.host ? { host: options.host } : {}),
    connectionPool: { name: "gateway", pool: await connectionPool(orm) },
  });
  // RED for the console's API: every answer, by method, route template and status (OpenTelemetry's HTTP server conventions).
  const requestDuration = telemetry.meter.createHistogram("http.server.request.duration", {
    description: "Duration of the gateway's HTTP answers",
    unit: "s",
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
  });

  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const app = Fastify({
    logger: false,
    // A request's headers and body must arrive within this (a body that never ends was held open for good); then 408.
    requestTimeout: requestTimeoutMs,
    // Node reads the timeout when the server is made (Fastify's setting after it is not enforced), and looks for such requests
    // every connectionsCheckingInterval (its default, 30 s, would let one run a minute).
    http: { requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs) },
    trustProxy: options.trustedProxies && options.trustedProxies.length > 0 ? options.trustedProxies : false,
    bodyLimit: 256 * 1024,
    routerOptions: ROUTER_OPTIONS,
    // Errors the router raises before any route (a URL that does not decode, %ff) answer in the API's error shape too.
    frameworkErrors: (error, _request, reply) => {
      const http = toHttpError(error);
      if ((error as { code?: string }).code === "FST_ERR_BAD_URL") http.body.error.field = "path";
      void (reply as unknown as FastifyReply).status(http.status).header("x-trace-id", currentTraceId()).send(http.body);
    },
    // And those Node's HTTP parser refuses before the router (431 for oversized headers, 400 for a malformed one).
    clientErrorHandler: (error, socket) => {
      // As Node's own handler: nothing is written into an answer already under way on the connection.
      const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
      const answer = socket.destroyed || answering ? undefined : clientErrorAnswer(error);
      if (answer && socket.writable) {
        socket.end(answer);
        socket.destroySoon();
      } else socket.destroy(error);
    },
  });
  if (!options.trustTraceContext) dropIncomingTraceContext(app.server);
  // The API takes JSON bodies only: a text/plain body is 415, not a string every field of which reads as missing.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, readJsonBody);
  const allowedMethods = methodsByPath(app, ROUTER_OPTIONS);
  // Tokens travel in the Authorization header, never in cookies: no CORS credentials.
  await app.register(cors, {
    origin: options.corsOrigins && options.corsOrigins.length > 0 ? options.corsOrigins : false,
    methods: ["GET", "HEAD", "POST", "DELETE"],
    allowedHeaders: ["authorization", "content-type", "idempotency-key"],
    // content-disposition: a host on another origin gets an export's file name.
    exposedHeaders: ["content-range", "x-trace-id", "content-disposition"],
  });

  app.addHook("onResponse", async (request, reply) => {
    requestDuration.record(reply.elapsedTime / 1000, {
      "http.request.method": request.method,
      // The matched route, never the raw path (ids would make a series each); unmatched paths count as one.
      "http.route": request.routeOptions.url ?? "unmatched",
      "http.response.status_code": reply.statusCode,
    });
  });

  // Each request runs in its own MikroORM context and answers with its trace id.
  app.addHook("onRequest", (_request, reply, done) => {
    reply.header("x-trace-id", currentTraceId());
    // Every answer, the console's pages included: no MIME sniffing, never framed by another site (clickjacking), no referrer leaving it.
    reply.header("x-content-type-options", "nosniff");
    reply.header("x-frame-options", "DENY");
    reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
    reply.header("referrer-policy", "no-referrer");
    consoleUser.run({}, () => RequestContext.create(orm.em, done));
  });

  const maxTokenHours = options.maxTokenHours ?? DEFAULT_MAX_TOKEN_HOURS;
  const refusals = new RateLimiter(options.refusalLimit ?? REFUSAL_LIMIT);
  const maxTokenSeconds = maxTokenHours * 3600;
  // On the request's headers, before its body is read: a caller without a valid token or the role is refused whatever it sends.
  app.addHook("onRequest", async (request) => {
    // By the matched route, not the raw URL, so no spelling of a path slips past the check.
    const route = request.routeOptions.url ?? "";
    if (!route.startsWith("/api/") || route === "/api/login") return;
    // Node keeps the first of two Authorization headers: which one a proxy or a log read is anyone's guess, so neither counts.
    if (timesGiven(request, "authorization") > 1) {
      throw new UnauthenticatedError("give the Authorization header once", "AUTHORIZATION_REPEATED");
    }
    const header = request.headers.authorization ?? "";
    // The scheme is case-insensitive (RFC 9110 §11.1).
    const token = /^bearer +/i.test(header) ? header.replace(/^bearer +/i, "").trim() : "";
    if (!token) throw new UnauthenticatedError("sign in first", "LOGIN_REQUIRED");
    let signedIn: SignedIn;
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ["HS256"], requiredClaims: ["exp"], ...CONSOLE_TOKEN });
      // A user name: not empty, no control character (it is recorded as who an action was for).
      if (typeof payload.sub !== "string" || !/^[^\u0000-\u001f\u007f]+$/.test(payload.sub) || !isRole(payload.role)) throw new Error("claims");
      if (payload.exp! - Date.now() / 1000 > maxTokenSeconds) throw new Error("lives too long");
      // A sign-in's token holds while its user is configured as when they signed in (a back office's tokens carry no `ses`).
      if (payload.ses !== undefined && payload.ses !== users.stamp(payload.sub, key)) throw new Error("the user's sign-in changed");
      signedIn = { username: payload.sub, role: payload.role, tokenId: tokenIdOf(token, payload.jti), expiresAt: payload.exp! };
    } catch {
      throw new UnauthenticatedError("the session has expired or the token is not valid; sign in again", "TOKEN_INVALID");
    }
    // A token its user signed out of (POST /api/logout) is refused by every gateway on the database.
    if (await revokedTokens.isRevoked(signedIn.tokenId).catch(signInUnavailable)) {
      throw new UnauthenticatedError("this token was signed out; sign in again", "TOKEN_REVOKED");
    }
    Object.assign(request, { user: { username: signedIn.username, role: signedIn.role } satisfies User, signedIn });
    const context = consoleUser.getStore();
    if (context) context.username = signedIn.username;
  });

  // Once for every route, after sign-in and before the body is read: the role its action needs, then only the query parameters it
  // takes, each given once, as text without control characters.
  app.addHook("onRequest", async (request) => {
    if ((request.routeOptions.url ?? "").startsWith("/api/")) checkRoute(request);
  });

  const answerNotFound = notFound(allowedMethods);
  // An unknown path, or a method its path does not take, is answered from its request line and headers: its body is never
  // read, and a connection that sent one is closed after the answer rather than made to take in all of it first.
  app.addHook("onRequest", async (request, reply) => {
    if (!request.is404) return;
    if (request.headers["transfer-encoding"] !== undefined || Number(request.headers["content-length"] ?? 0) > 0) reply.header("connection", "close");
    return answerNotFound(request, reply);
  });
  app.setErrorHandler(async (error, request, reply) => {
    // The console's files refuse a path that leaves their directory (`/x/../index.html`, `/api/./me`) with a bare 403: it is
    // no file there, and said so in the API's shape.
    if ((error as { statusCode?: number }).statusCode === 403 && !(error instanceof PermissionDeniedError)) return answerNotFound(request, reply);
    const http = toHttpError(error);
    if (http.status === 500) log().error({ err: error, trace_id: currentTraceId(), method: request.method, route: request.routeOptions.url ?? request.url }, "internal error");
    // Refusals of who asked (sign-in, role): recorded, until an address has used up its refusals; past that it is answered
    // 429 and nothing is written, so a flood of bad tokens cannot queue writes on the audit log's connections.
    if (error instanceof UnauthenticatedError || error instanceof PermissionDeniedError) {
      const taken = refusals.take(request.ip);
      if (!taken.allowed) {
        const seconds = Math.ceil(taken.retryAfterMs / 1000);
        return sendHttpError(reply, tooManyRequests(seconds, "RATE_LIMITED", `too many refused requests from this address; retry after ${seconds} s`));
      }
      await recordRefusal(calls, request, http.status, error);
    }
    return sendHttpError(reply, http);
  });

  // An unknown path, or a method its path does not take, answers in the same error shape as every other refusal.
  app.setNotFoundHandler(answerNotFound);

  // Sign-in limits count in the database, shared by every gateway process.
  await app.register(rateLimit, { global: false, store: loginAttemptStore(() => orm.em.getContext()) });
  registerLogin(app, users, key, { limits: options.loginLimits ?? DEFAULT_LOGIN_LIMITS, tokenTtl: options.tokenTtl ?? `${Math.min(SIGN_IN_HOURS, maxTokenHours)}h` });
  registerLogout(app, revokedTokens);

  registerRoutes(app, clients, audit, calls);
  registerReceiptRoutes(app, clients);

  const staticDir = options.staticDir;
  if (staticDir && existsSync(staticDir)) {
    await app.register(fastifyStatic, {
      root: staticDir,
      index: ["index.html"],
      dotfiles: "ignore",
      // The build names each asset by its content's hash, so a browser keeps it for good; the page naming them is asked again each time.
      setHeaders: (reply, path) => {
        reply.header("cache-control", relative(staticDir, path).startsWith(`assets${sep}`) ? "public, max-age=31536000, immutable" : "no-cache");
      },
    });
  }

  const address = await app.listen({ port: options.port, host: options.host ?? "127.0.0.1" });
  // Ready from here until stopping begins (the HTTP server then stops taking requests).
  let stopping = false;
  telemetry.setReadiness(() => !stopping);
  return {
    url: address,
    metrics: { url: telemetry.url },
    app,
    stop: () =>
      stopInOrder("gateway", {
        "HTTP server": () => {
          stopping = true;
          return closeHttp(app);
        },
        metrics: () => telemetry.shutdown(),
        clients: () => Object.values(clients).forEach((client) => client.close()),
        database: () => orm.close(),
        "call log": () => calls.close(),
      }),
  };
}

/**
 * How paths find routes, for the router and the 405 lookup alike: a path
 * parameter as long as a URL may be reaches its route, whose checks name the
 * field (a budget id, `<unit>/<scope>/<scope id>`, is up to 512 characters: a
 * longer one is 400 for that field, not "no such route"), and `//api/accounts`
 * as the path `/api/accounts` (RFC 3986 leaves it to the server; proxies often
 * fold them), not a console file.
 */
const ROUTER_OPTIONS = { maxParamLength: 16 * 1024, ignoreDuplicateSlashes: true };

/** How long stopping waits for requests in flight before it closes their connections. */
const HTTP_DRAIN_MS = 5_000;

/**
 * Stops taking requests and waits for those in flight, then closes every
 * connection still open: a request whose body is still arriving (or never
 * will) does not hold the stop up.
 */
async function closeHttp(app: FastifyInstance): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), HTTP_DRAIN_MS);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}
