import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { Meter } from "@opentelemetry/api";
import { HealthImplementation } from "grpc-health-check";
import { log } from "@tollgate/telemetry";
import { rpcMetricsInterceptor } from "./rpc-metrics.js";
// After the gRPC packages: these load @tollgate/proto, whose clients must be made from the instrumented grpc-js.
import type { CallAudit } from "./audit.js";
import { guardService, type Limiters, type ServerAuth } from "./guard.js";
import { RateLimiter, type RateLimit } from "./rate-limit.js";
import { validatingDefinition } from "./validation.js";

export interface ServiceBinding {
  /** Fully qualified name, e.g. `tollgate.ledger.v1.LedgerService`. */
  name: string;
  definition: ServiceDefinition;
  /** Handlers by method name; methods left out answer UNIMPLEMENTED. */
  implementation: Partial<UntypedServiceImplementation> | object;
}

export interface GrpcServerOptions {
  services: ServiceBinding[];
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** How long SIGTERM waits for in-flight calls before cutting them. */
  drainTimeoutMs?: number;
  /** When set, every call is recorded in `rpc.server.duration` on this meter. */
  meter?: Meter;
  /** Who may call: verified credentials checked against the access table, or (on loopback only) nobody checked. */
  auth: ServerAuth;
  /** Serve gRPC reflection (default true). */
  reflection?: boolean;
  /** Calls per second per principal (unset: no limit). */
  rateLimit?: RateLimit;
  /** Calls refused for want of a valid credential, per peer address (default REFUSAL_LIMIT; see `Limiters`). */
  refusalLimit?: RateLimit;
  /** Where admin calls and refused calls are recorded (unset: not recorded). */
  audit?: CallAudit;
  /** Serve TLS with this certificate chain and key (unset: plaintext). */
  tls?: ServerTls;
}

/** A server's certificate chain and private key, PEM. */
export interface ServerTls {
  certChain: Buffer;
  privateKey: Buffer;
}

export interface RunningServer {
  server: Server;
  port: number;
  address: string;
  health: HealthImplementation;
  /** Stops accepting calls, waits for in-flight ones (up to drainTimeoutMs), then closes. */
  drain(): Promise<void>;
  /** True from the bind until draining begins: what a readiness probe reports. */
  serving(): boolean;
}

let reflection: ReflectionService | undefined;
function reflectionService(): ReflectionService {
  if (!reflection) {
    const require = createRequire(import.meta.url);
    const descriptor = readFileSync(require.resolve("@tollgate/proto/descriptor.binpb"));
    reflection = new ReflectionService(loadFileDescriptorSetFromBuffer(descriptor));
  }
  return reflection;
}

/** Refused calls an address may make: 100 at once, then 10 a second (a misconfigured caller's retries fit; a flood does not). */
export const REFUSAL_LIMIT: RateLimit = { perSecond: 10, burst: 100 };

/** Starts a gRPC server with health checking and reflection beside the given services. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  if ("disabled" in options.auth && !isLoopback(host)) {
    throw new Error(`authentication can be turned off only on a loopback address, not on ${host}`);
  }
  const server = new Server({
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
    ...(options.meter ? { interceptors: [rpcMetricsInterceptor(options.meter)] } : {}),
  });
  const health = new HealthImplementation({ "": "SERVING" });
  const limiters: Limiters = {
    ...(options.rateLimit && options.rateLimit.perSecond > 0 ? { calls: new RateLimiter(options.rateLimit) } : {}),
    ...("disabled" in options.auth ? {} : { refusals: new RateLimiter(options.refusalLimit ?? REFUSAL_LIMIT) }),
  };
  for (const binding of options.services) {
    const implementation = binding.implementation as UntypedServiceImplementation;
    server.addService(validatingDefinition(binding.name, binding.definition), guardService(binding.definition, implementation, options.auth, limiters, options.audit));
    health.setStatus(binding.name, "SERVING");
  }
  // Health checks and reflection stay open to every caller.
  health.addToServer(server);
  if (options.reflection ?? true) reflectionService().addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${host}:${options.port}`,
      options.tls ? ServerCredentials.createSsl(null, [{ cert_chain: options.tls.certChain, private_key: options.tls.privateKey }], false) : ServerCredentials.createInsecure(),
      (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );

  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  let drained: Promise<void> | undefined;
  const drain = () =>
    (drained ??= new Promise<void>((resolve) => {
      health.setStatus("", "NOT_SERVING");
      for (const binding of options.services) health.setStatus(binding.name, "NOT_SERVING");
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, drainTimeoutMs);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }));

  return { server, port, address: `${host}:${port}`, health, drain, serving: () => drained === undefined };
}

/** True for addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Calls `stop` once on SIGTERM or SIGINT, then exits. */
export function onShutdownSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log().error({ err: error, signal }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", handle);
  process.once("SIGINT", handle);
}
