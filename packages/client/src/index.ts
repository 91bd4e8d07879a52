export { TollgateClient } from "./client.js";
export type {
  Attribution,
  Authorization,
  AuthorizeInput,
  CallOptions,
  ChargeInput,
  ChargeResult,
  ExtendHoldInput,
  HoldExtension,
  ReleaseInput,
  ReleaseResult,
  RunContext,
  TollgateClientOptions,
  UnitBalance,
  WorkKind,
} from "./client.js";
export { isLoopback, tokenCache, tokenExpiryMs, type TlsOptions, type TokenSource } from "./credentials.js";
export {
  AbortedError,
  AlreadyExistsError,
  CancelledError,
  DeadlineExceededError,
  decodeError,
  DeniedError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  RpcError,
  TollgateError,
  UnauthenticatedError,
  UnavailableError,
  type CodeName,
  type DenialReason,
  type FieldViolation,
} from "./errors.js";
export { stepKey, uuidv7 } from "./keys.js";
export { Meter, type MeterOptions, type ReportOptions, type Stop, type StopReason } from "./meter.js";
export { backoffMs, DEFAULT_RETRY, isRetryable, type RetryPolicy } from "./retry.js";
export { Run, type RunEnd, type RunOptions } from "./run.js";
export { StreamMeter, type LedgerStopReason, type StreamCharge, type StreamMeterOptions, type StreamTotals } from "./stream.js";
export { usage, zeroOf, type Count, type Usage } from "./usage.js";
