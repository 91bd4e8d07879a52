import {
  credentials as channelCredentials,
  InterceptingCall,
  Metadata,
  status,
  type CallOptions,
  type Client,
  type ClientUnaryCall,
  type Interceptor,
  type ServiceError,
} from "@grpc/grpc-js";
import type { Credential } from "./credentials.js";
import { setOnBehalfOf } from "./guard.js";

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export interface ClientOptions {
  /** The bearer token sent on every call: a token, or a function returning a fresh one. */
  credentials?: Credential;
  /** The person the caller acts for, read at each call (sent only by `service` principals). */
  onBehalfOf?: () => string | undefined;
  /** Connect with TLS, checking the server's certificate against these CA certificates (unset: plaintext). */
  channelTls?: ChannelTls;
}

/** The CA certificates (PEM) a client checks servers' certificates against. */
export interface ChannelTls {
  rootCerts: Buffer;
}

/** Adds `authorization` (and on-behalf-of) to every call's metadata. */
function credentialInterceptor(options: ClientOptions): Interceptor {
  const credential = options.credentials;
  const token = typeof credential === "function" ? credential : () => credential;
  return (callOptions, nextCall) =>
    new InterceptingCall(nextCall(callOptions), {
      start(metadata, listener, next) {
        const onBehalfOf = options.onBehalfOf?.();
        if (onBehalfOf) setOnBehalfOf(metadata, onBehalfOf);
        Promise.resolve()
          .then(token)
          .then(
            (value) => {
              if (value) metadata.set("authorization", `Bearer ${value}`);
              next(metadata, listener);
            },
            (error: unknown) =>
              listener.onReceiveStatus?.({
                code: status.UNAUTHENTICATED,
                details: `could not make a credential: ${error instanceof Error ? error.message : String(error)}`,
                metadata: new Metadata(),
              }),
          );
      },
    });
}

/** Creates a ts-proto grpc-js client on a reused channel; every call carries the given credentials. */
export function createClient<C extends Client>(
  Ctor: new (address: string, creds: ReturnType<typeof channelCredentials.createInsecure>, options?: object) => C,
  address: string,
  options: ClientOptions = {},
): C {
  return new Ctor(address, options.channelTls ? channelCredentials.createSsl(options.channelTls.rootCerts) : channelCredentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.enable_retries": 1,
    ...(options.credentials || options.onBehalfOf ? { interceptors: [credentialInterceptor(options)] } : {}),
  });
}

/** Promise form of a unary call. `deadlineMs` defaults to 10 s. */
export function call<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { deadlineMs?: number } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new Metadata(), { deadline: Date.now() + (options.deadlineMs ?? 10_000) }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}
