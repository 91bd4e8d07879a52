import type {
  ServerDuplexStream,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
  handleBidiStreamingCall,
  handleUnaryCall,
  handleServerStreamingCall,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { AsyncLocalStorage } from "node:async_hooks";
import type { Principal } from "./credentials.js";
import { toServiceError, traceIdOf } from "./errors.js";
import { admitMessage, principalOf, refusal as streamRefusal } from "./guard.js";
import { refusal } from "./validation.js";

/** Runs a handler inside a per-request scope (e.g. a forked MikroORM context). */
export type RequestScope = <T>(fn: () => Promise<T>) => Promise<T>;

export interface CallContext {
  /** Resolves when the client cancels or the deadline passes. */
  signal: AbortSignal;
  metadata: Record<string, string>;
  /** Who is calling (checked before the handler); undefined only when authentication is off. */
  principal: Principal | undefined;
}

export interface HandlerOptions {
  scope?: RequestScope;
}

const direct: RequestScope = (fn) => fn();

/**
 * Who a change is recorded as: the authenticated principal, and the person it
 * acted for; with authentication off, the actor the request names.
 */
export function actorOf(context: CallContext, requested: string): { actor: string; onBehalfOf: string | undefined } {
  const principal = context.principal;
  return principal ? { actor: principal.name, onBehalfOf: principal.onBehalfOf } : { actor: requested, onBehalfOf: undefined };
}

/** The actor of a change made with authentication off by an RPC whose request has no actor field (SetAccountControls, ChangeAccountPlan). */
export const UNAUTHENTICATED_ACTOR = "unauthenticated";

/** A request the validating deserializer refused (validation.ts) is answered INVALID_ARGUMENT before the handler runs. */
function checkRequest(request: unknown): void {
  const refused = refusal(request);
  if (refused) throw refused;
}

/**
 * The call's context. The abort signal and the metadata map are made only
 * when a handler asks for them: unary handlers on the hot path rarely do, and
 * grpc-js reports every finished call as "cancelled".
 */
function contextOf(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>): CallContext {
  let signal: AbortSignal | undefined;
  let metadata: Record<string, string> | undefined;
  return {
    principal: principalOf(call),
    get signal() {
      if (!signal) {
        const controller = new AbortController();
        if (call.cancelled) controller.abort();
        else (call as ServerWritableStream<unknown, unknown>).once("cancelled", () => controller.abort());
        signal = controller.signal;
      }
      return signal;
    },
    get metadata() {
      metadata ??= Object.fromEntries(Object.entries(call.metadata.getMap()).map(([key, value]) => [key, String(value)]));
      return metadata;
    },
  };
}

/** Adapts a promise-returning handler to grpc-js, with request scope and error mapping. */
const unaryCalls = new AsyncLocalStorage<{ readonly cancelled: boolean }>();

/**
 * The unary call whose handler is running (undefined outside one): `cancelled`
 * once its client has gone (it cancelled, or its deadline passed), so work
 * queued for it can be dropped before it starts.
 */
export function unaryCallInFlight(): { readonly cancelled: boolean } | undefined {
  return unaryCalls.getStore();
}

export function unary<Req, Res>(
  handler: (request: Req, context: CallContext) => Promise<Res>,
  options: HandlerOptions = {},
): handleUnaryCall<Req, Res> {
  const scope = options.scope ?? direct;
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    unaryCalls.run(call, () => scope(async () => {
      checkRequest(call.request);
      return handler(call.request, contextOf(call as ServerUnaryCall<unknown, unknown>));
    })).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error, () => traceIdOf(call.metadata))),
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
      checkRequest(call.request);
      for await (const message of handler(call.request, context)) {
        if (context.signal.aborted) break;
        if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
      }
    }).then(
      () => call.end(),
      (error: unknown) => {
        if (context.signal.aborted) return;
        call.emit("error", toServiceError(error, () => traceIdOf(call.metadata)));
      },
    );
  };
}

/** One bidirectional call as its handler sees it. */
export interface BidiCall<Req, Res> {
  /**
   * The client's messages in order, each validated and checked against the
   * credential's accounts (a refused one throws). Ends when the client
   * half-closes, or when it goes away (then `context.signal` is aborted).
   */
  messages: AsyncIterable<Req>;
  /** Sends a message at any time (dropped once the call is over). */
  send(message: Res): void;
  /** Ends the call at once with the error's status (e.g. UNAVAILABLE on shutdown); `messages` then ends. */
  fail(error: unknown): void;
  context: CallContext;
}

/** Messages read ahead of the handler before the stream stops reading (flow control). */
const READ_AHEAD = 16;

/**
 * Adapts a handler of a bidirectional stream to grpc-js. When the handler
 * returns the call ends OK; when it throws, with the error's status. The
 * handler runs in no request scope: a long-lived stream should scope each
 * unit of work itself.
 */
export function bidiStream<Req, Res>(handler: (call: BidiCall<Req, Res>) => Promise<void>): handleBidiStreamingCall<Req, Res> {
  return (call: ServerDuplexStream<Req, Res>) => {
    const context = contextOf(call as ServerDuplexStream<unknown, unknown>);
    const queue: Req[] = [];
    let ended = false;
    let wake: (() => void) | undefined;
    const wakeUp = () => {
      const resume = wake;
      wake = undefined;
      resume?.();
    };
    const finish = () => {
      ended = true;
      wakeUp();
    };
    call.on("data", (message: Req) => {
      queue.push(message);
      if (queue.length >= READ_AHEAD) call.pause();
      wakeUp();
    });
    call.on("end", finish);
    call.on("close", finish);
    call.on("cancelled", finish);
    async function* messages(): AsyncGenerator<Req> {
      for (;;) {
        const message = queue.shift();
        if (message === undefined) {
          if (ended || call.cancelled) return;
          if (call.isPaused()) call.resume();
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const refused = refusal(message);
        if (refused) throw refused;
        admitMessage(call, message as Record<string, unknown>);
        yield message;
      }
    }
    const over = () => call.cancelled || call.destroyed || call.writableEnded;
    const fail = (error: unknown) => {
      if (!over()) call.emit("error", streamRefusal(error, () => traceIdOf(call.metadata)));
      finish();
    };
    handler({ messages: messages(), send: (message) => void (over() || call.write(message)), fail, context }).then(
      () => {
        if (!over()) call.end();
      },
      (error: unknown) => fail(error),
    );
  };
}

export const UNIMPLEMENTED = status.UNIMPLEMENTED;
