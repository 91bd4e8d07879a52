import { credentials, Metadata, type CallOptions, type Client, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export interface ClientOptions {
  serviceToken?: string;
}

/** Creates a ts-proto grpc-js client on a reused channel. */
export function createClient<C extends Client>(
  Ctor: new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: object) => C,
  address: string,
): C {
  return new Ctor(address, credentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.enable_retries": 1,
  });
}

/** Promise form of a unary call. `deadlineMs` defaults to 10 s. */
export function call<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { deadlineMs?: number; serviceToken?: string } = {},
): Promise<Res> {
  const metadata = new Metadata();
  if (options.serviceToken) metadata.set("authorization", `Bearer ${options.serviceToken}`);
  return new Promise((resolve, reject) => {
    method.call(client, request, metadata, { deadline: Date.now() + (options.deadlineMs ?? 10_000) }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}
