import { isIP } from "node:net";
import { z } from "zod";

export { z };

/** Raised at boot when the environment does not satisfy a service's schema. */
export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; problem: string }[]) {
    super(
      "invalid configuration:\n" +
        issues.map((i) => `  ${i.variable}: ${i.problem}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/**
 * Parses `env` against a schema whose keys are environment variable names.
 * Defaults live in the schema, beside each variable. Fails naming every bad
 * variable rather than the first.
 */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? "(environment)"),
        problem: issue.message,
      })),
    );
  }
  return result.data;
}

/** The entries of a comma-separated setting (`a, b,`: a and b), trimmed, the empty ones left out. */
export function commaList(spec: string): string[] {
  return spec.split(",").map((entry) => entry.trim()).filter(Boolean);
}

/** Parses `10.1.0.0/16,::1/128` (a bare address is one host); throws naming the bad entry. */
export function parseNetworks(spec: string): [string, number, "ipv4" | "ipv6"][] {
  return commaList(spec)
    .map((entry) => {
      const [address = "", prefix] = entry.split("/");
      const version = isIP(address);
      const bits = prefix === undefined ? (version === 6 ? 128 : 32) : Number(prefix);
      if (version === 0 || !Number.isInteger(bits) || bits < 0 || bits > (version === 6 ? 128 : 32)) {
        throw new Error(`"${entry}" is not an address or address/prefix`);
      }
      return [address, bits, version === 6 ? "ipv6" : "ipv4"];
    });
}

/** Common variable schemas. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  url: () => z.url(),
  optionalUrl: () => z.url().optional(),
  host: (fallback: string) => z.string().min(1).default(fallback),
  address: () =>
    z.string().regex(/^[^\s:]+:\d+$/, "expected host:port"),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  logLevel: () => z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** A comma-separated list of networks (`10.1.0.0/16,::1`), as its entries; empty: none. */
  networks: () =>
    z.string().default("").superRefine((spec, context) => {
      try {
        parseNetworks(spec);
      } catch (error) {
        context.addIssue({ code: "custom", message: (error as Error).message });
      }
    }).transform(commaList),
};

/** The credential a process sends on its own gRPC calls: a token, or a private JWK to mint its own with. */
export const credentialShape = {
  AUTH_TOKEN: z.string().min(1).optional(),
  AUTH_SIGNING_KEY: z.string().min(1).optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
};

/** TLS on a process's calls to the services: the CA certificates (PEM file) their certificates are checked against. */
export const channelTlsShape = {
  GRPC_TLS_CA_FILE: z.string().min(1).optional(),
};

/** Variables every service reads. */
export const baseShape = {
  DATABASE_URL: env.url(),
  LOG_LEVEL: env.logLevel(),
  GRPC_HOST: env.host("127.0.0.1"),
  DB_POOL_MAX: env.positiveInt(8),
  // Trusted credential issuers and their public keys, as JSON: { "<iss>": { "keys": [JWK, …] } }.
  AUTH_ISSUERS: z.string().min(1).optional(),
  // Turns authentication off; accepted only with a loopback GRPC_HOST.
  AUTH_DISABLED: z.enum(["true", "false"]).default("false"),
  // How far ahead a credential's expiry may be, in days (unset: grpc-kit's DEFAULT_MAX_TOKEN_DAYS); one that lives longer is refused.
  AUTH_MAX_TOKEN_DAYS: z.coerce.number().int().positive().optional(),
  ...credentialShape,
  GRPC_REFLECTION: z.enum(["true", "false"]).default("true"),
  // Read by registerTelemetry before this check runs (spans recorded with no exporter); named here so a typo stops the boot.
  TRACES_RECORDED: z.enum(["true", "false"]).default("false"),
  // Calls per second each principal may make (0: no limit), and how many at once after an idle spell.
  GRPC_RATE_LIMIT: z.coerce.number().min(0).default(0),
  GRPC_RATE_BURST: z.coerce.number().int().min(0).default(0),
  // TLS on the service's gRPC port: its certificate chain and private key (PEM files); both or neither.
  GRPC_TLS_CERT_FILE: z.string().min(1).optional(),
  GRPC_TLS_KEY_FILE: z.string().min(1).optional(),
  ...channelTlsShape,
};
