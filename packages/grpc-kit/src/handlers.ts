import type { ServerUnaryCall, ServerWritableStream, sendUnaryData, handleUnaryCall, handleServerStreamingCall } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { UnauthenticatedError } from "@tollgate/errors";
import { toServiceError } from "./errors.js";

/** Runs a handler inside a per-request scope (e.g. a forked MikroORM context). */
export type RequestScope = <T>(fn: () => Promise<T>) => Promise<T>;

export interface CallContext {
  /** Resolves when the client cancels or the deadline passes. */
  signal: AbortSignal;
  metadata: Record<string, string>;
}

export interface HandlerOptions {
  scope?: RequestScope;
  /** When set, callers must send `authorization: Bearer <token>`. */
  serviceToken?: string;
}

const direct: RequestScope = (fn) => fn();

function checkToken(metadata: { get(key: string): unknown[] }, token: string | undefined): void {
  if (!token) return;
  const sent = metadata.get("authorization")[0];
  if (sent !== `Bearer ${token}`) throw new UnauthenticatedError("missing or wrong service token", "SERVICE_TOKEN_REQUIRED");
}

function contextOf(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): CallContext {
  const controller = new AbortController();
  call.on("cancelled", () => controller.abort());
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(call.metadata.getMap())) metadata[key] = String(value);
  return { signal: controller.signal, metadata };
}

/** Adapts a promise-returning handler to grpc-js, with request scope and error mapping. */
export function unary<Req, Res>(
  handler: (request: Req, context: CallContext) => Promise<Res>,
  options: HandlerOptions = {},
): handleUnaryCall<Req, Res> {
  const scope = options.scope ?? direct;
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    scope(async () => {
      checkToken(call.metadata, options.serviceToken);
      return handler(call.request, contextOf(call as ServerUnaryCall<unknown, unknown>));
    }).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  };
}

/**
 * Adapts an async generator to a server stream. The generator should stop
 * when `context.signal` aborts; backpressure is respected through `write`.
 */
export function serverStream<Req, Res>(
  handler: (request: Req, context: CallContext) => AsyncIterable<Res>,
  options: HandlerOptions = {},
): handleServerStreamingCall<Req, Res> {
  const scope = options.scope ?? direct;
  return (call: ServerWritableStream<Req, Res>) => {
    const context = contextOf(call as ServerWritableStream<unknown, unknown>);
    scope(async () => {
      checkToken(call.metadata, options.serviceToken);
      for await (const message of handler(call.request, context)) {
        if (context.signal.aborted) break;
        if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
      }
    }).then(
      () => call.end(),
      (error: unknown) => {
        if (context.signal.aborted) return;
        call.emit("error", toServiceError(error));
      },
    );
  };
}

export const UNIMPLEMENTED = status.UNIMPLEMENTED;
