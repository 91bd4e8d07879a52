export { startGrpcServer, onShutdownSignal, isLoopback, REFUSAL_LIMIT, type ServiceBinding, type RunningServer, type GrpcServerOptions, type ServerTls } from "./server.js";
export { unary, unaryCallInFlight, serverStream, bidiStream, actorOf, UNAUTHENTICATED_ACTOR, type BidiCall, type CallContext, type HandlerOptions, type RequestScope } from "./handlers.js";
export { ACCESS, PREFERENCE_READERS, ROLES, accessOf, type Access, type Role } from "./access.js";
export {
  AUDIENCE,
  tokenVerifier,
  DEFAULT_MAX_TOKEN_DAYS,
  generateIssuerKey,
  mintToken,
  selfSignedCredential,
  type Principal,
  type TokenVerifier,
  type IssuerKeys,
  type IssuerKeyPair,
  type TokenClaims,
  type Credential,
} from "./credentials.js";
export { elidedUrl, withoutCredentials, type CallAudit, type AuditedCall } from "./audit.js";
export { ON_BEHALF_OF, principalOf, type ServerAuth } from "./guard.js";
export { RateLimiter, rateLimitedError, type RateLimit } from "./rate-limit.js";
export { serverAuthFromEnv, serverSecurityFromEnv, serverTlsFromEnv, channelTlsFromEnv, clientCredentialFromEnv, type AuthEnvironment, type TlsEnvironment } from "./env.js";
export { toServiceError, errorDetails, traceIdOf, fromServiceError, renameField, upstream, type ErrorDetails } from "./errors.js";
export { BIDI_CONTROLS, characters, isAccountId, isActorName, MAX_ACTOR_LENGTH, validatingDefinition, validateMessage, descriptors } from "./validation.js";
export { fromProtoJson, jsonFieldPath } from "./proto-json.js";
export { FIELD_RULES, DEFAULT_MAX_ITEMS, DEFAULT_MAX_LENGTH, TIMESTAMP_RANGE, type FieldRule } from "./request-rules.js";
export { createClient, call, type ClientOptions, type ChannelTls } from "./client.js";
export { mikroOrmScope } from "./orm-scope.js";
export { pageSize, page, pageOffset, pageScope, scopedToken, tokenPosition, numbersToken, tokenNumbers, newestFirstPage, tokenCursor, cursorToken, keyToken, tokenKey, tokenKeys, notOurToken, encodedSize, requireKnownWhenEmpty, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGE_BYTES } from "./paging.js";
export { hardenObjectPrototype } from "./harden.js";
export { runService } from "./main.js";
export { stopInOrder, together, STOP_STEP_TIMEOUT_MS, STOP_TIMEOUT_MS } from "./stop.js";
export { rpcMetricsInterceptor } from "./rpc-metrics.js";
