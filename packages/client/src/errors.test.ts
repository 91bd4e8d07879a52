import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { FailedPreconditionError as DomainFailedPrecondition, InvalidArgumentError as DomainInvalidArgument, NotFoundError as DomainNotFound, PermissionDeniedError as DomainPermissionDenied } from "@tollgate/errors";
import { toServiceError } from "@tollgate/grpc-kit";
import { googleRpcErrorDetails, googleRpcStatus, ledgerV1 } from "@tollgate/proto";
import { describe, expect, it, vi } from "vitest";
import { decodeError, DeniedError, denialReasonName, FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError, PermissionDeniedError, ResourceExhaustedError, RpcError, TollgateError, UnavailableError } from "./errors.js";

/** What a Tollgate server sends for a domain error: grpc-kit's own encoder, so the client decodes exactly that. */
const fromServer = (error: unknown) => Object.assign(new Error("call failed"), toServiceError(error)) as ServiceError;

describe("decodeError", () => {
  it("INVALID_ARGUMENT carries the field from google.rpc.BadRequest and the reason from google.rpc.ErrorInfo", () => {
    const error = decodeError(fromServer(new DomainInvalidArgument("estimate.model_reply.replies", "must be at most 1000000000000")));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toBeInstanceOf(TollgateError);
    expect(error).toMatchObject({
      kind: "rpc",
      code: status.INVALID_ARGUMENT,
      codeName: "INVALID_ARGUMENT",
      reason: "INVALID_FIELD",
      field: "estimate.model_reply.replies",
      metadata: { field: "estimate.model_reply.replies" },
      fieldViolations: [{ field: "estimate.model_reply.replies", description: "estimate.model_reply.replies: must be at most 1000000000000", reason: "INVALID_FIELD" }],
      message: "estimate.model_reply.replies: must be at most 1000000000000",
    });
  });

  it("NOT_FOUND, PERMISSION_DENIED and FAILED_PRECONDITION keep their reason and metadata", () => {
    expect(decodeError(fromServer(new DomainNotFound("account", "acme")))).toMatchObject({ constructor: NotFoundError, reason: "ACCOUNT_NOT_FOUND", metadata: { account: "acme" }, field: undefined });
    expect(decodeError(fromServer(new DomainPermissionDenied("needs meter", "ROLE_REQUIRED", { role: "meter" })))).toMatchObject({
      constructor: PermissionDeniedError,
      code: status.PERMISSION_DENIED,
      reason: "ROLE_REQUIRED",
      metadata: { role: "meter" },
    });
    expect(decodeError(fromServer(new DomainFailedPrecondition("hold h is already charged", "HOLD_CLOSED")))).toMatchObject({ constructor: FailedPreconditionError, reason: "HOLD_CLOSED" });
  });

  it("INTERNAL keeps only the trace id the server gave", () => {
    const log = vi.spyOn(process.stdout, "write").mockImplementation(() => true); // the server's log line
    const error = decodeError(Object.assign(new Error("x"), toServiceError(new Error("secret detail"), () => "0af7651916cd43dd8448eb211c80319c")));
    log.mockRestore();
    expect(error).toMatchObject({ constructor: InternalError, code: status.INTERNAL, reason: "", traceId: "0af7651916cd43dd8448eb211c80319c" });
    expect((error as Error).message).not.toContain("secret");
  });

  it("RESOURCE_EXHAUSTED from the rate limiter carries its retry delay", () => {
    const details = [
      { typeUrl: "type.googleapis.com/google.rpc.ErrorInfo", value: Buffer.from(googleRpcErrorDetails.ErrorInfo.encode({ reason: "RATE_LIMITED", domain: "tollgate", metadata: { principal: "svc" } }).finish()) },
      { typeUrl: "type.googleapis.com/google.rpc.RetryInfo", value: Buffer.from(googleRpcErrorDetails.RetryInfo.encode({ retryDelay: { seconds: "1", nanos: 250_000_000 } }).finish()) },
    ];
    const metadata = new Metadata();
    metadata.set("grpc-status-details-bin", Buffer.from(googleRpcStatus.Status.encode({ code: status.RESOURCE_EXHAUSTED, message: "slow down", details }).finish()));
    const error = decodeError(Object.assign(new Error("x"), { code: status.RESOURCE_EXHAUSTED, details: "slow down", metadata }));
    expect(error).toMatchObject({ constructor: ResourceExhaustedError, reason: "RATE_LIMITED", metadata: { principal: "svc" }, retryDelayMs: 1_250 });
  });

  it("a status without details (the transport's own) is typed by its code; anything else is returned as is", () => {
    expect(decodeError(Object.assign(new Error("x"), { code: status.UNAVAILABLE, details: "No connection established", metadata: new Metadata() }))).toMatchObject({
      constructor: UnavailableError,
      reason: "",
      message: "No connection established",
    });
    const plain = new TypeError("not grpc");
    expect(decodeError(plain)).toBe(plain);
  });

  it("denials are TollgateErrors of kind denied, named without the enum prefix", () => {
    const denial = new DeniedError(denialReasonName(ledgerV1.DenialReason.DENIAL_REASON_INSUFFICIENT_CREDITS), "needs 5 credits; 2 available", 2_000_000n);
    expect(denial).toBeInstanceOf(TollgateError);
    expect(denial).toMatchObject({ kind: "denied", reason: "INSUFFICIENT_CREDITS", availableMicros: 2_000_000n, message: "needs 5 credits; 2 available" });
  });
});
