import { registerTelemetry } from "@tollgate/telemetry";

// Telemetry first: it must patch HTTP, gRPC and pg before they are loaded.
registerTelemetry({ serviceName: "tollgate-gateway" });

const { channelTlsShape, commaList, credentialShape, env, z } = await import("@tollgate/config");
const { channelTlsFromEnv, clientCredentialFromEnv, runService, ROLES } = await import("@tollgate/grpc-kit");
const { DEFAULT_LOGIN_LIMITS, DEFAULT_MAX_TOKEN_HOURS, startGateway, withDemoUsers } = await import("./index.js");

// Demo logins only when asked for (`npm start` does); otherwise GATEWAY_USERS must name the users.
const demoUsers = process.env.GATEWAY_DEMO_USERS === "true";

await runService(
  "gateway",
  {
    DATABASE_URL: env.url(),
    LOG_LEVEL: env.logLevel(),
    GATEWAY_HOST: env.host("127.0.0.1"),
    GATEWAY_PORT: env.port(8080),
    GATEWAY_METRICS_PORT: env.port(9465),
    GATEWAY_SECRET: z.string().min(32, "use at least 32 characters"),
    GATEWAY_USERS: demoUsers ? z.string().default("") : z.string({ error: "required: name:password:role,…" }).min(1, "required: name:password:role,…"),
    GATEWAY_DEMO_USERS: z.enum(["true", "false"]).default("false"),
    TRACES_RECORDED: z.enum(["true", "false"]).default("false"),
    GATEWAY_LOGIN_MAX_PER_USER: env.positiveInt(DEFAULT_LOGIN_LIMITS.perUser),
    GATEWAY_LOGIN_MAX_PER_ADDRESS: env.positiveInt(DEFAULT_LOGIN_LIMITS.perAddress),
    GATEWAY_LOGIN_WINDOW_MS: env.positiveInt(DEFAULT_LOGIN_LIMITS.windowMs),
    GATEWAY_MAX_TOKEN_HOURS: env.positiveInt(DEFAULT_MAX_TOKEN_HOURS),
    GATEWAY_CORS_ORIGINS: z.string().default(""),
    GATEWAY_TRUSTED_PROXIES: env.networks(),
    GATEWAY_TRUST_TRACE_CONTEXT: z.enum(["true", "false"]).default("false"),
    GATEWAY_STATIC_DIR: z.string().optional(),
    ENTITLEMENTS_ADDRESS: env.address().default("127.0.0.1:50051"),
    PRICING_ADDRESS: env.address().default("127.0.0.1:50052"),
    LEDGER_ADDRESS: env.address().default("127.0.0.1:50053"),
    NOTIFICATIONS_ADDRESS: env.address().default("127.0.0.1:50054"),
    ...credentialShape,
    ...channelTlsShape,
  },
  async (config) => {
    // The gateway acts for console users of every role: its own credential holds them all (and `service`, to name the user it acts for).
    const credentials = clientCredentialFromEnv(config, "gateway", ROLES);
    const channelTls = channelTlsFromEnv(config);
    const gateway = await startGateway({
      ...(credentials ? { credentials } : {}),
      ...(channelTls ? { channelTls } : {}),
      databaseUrl: config.DATABASE_URL,
      host: config.GATEWAY_HOST,
      port: config.GATEWAY_PORT,
      metricsPort: config.GATEWAY_METRICS_PORT,
      secret: config.GATEWAY_SECRET,
      users: demoUsers ? withDemoUsers(config.GATEWAY_USERS) : config.GATEWAY_USERS,
      loginLimits: { perUser: config.GATEWAY_LOGIN_MAX_PER_USER, perAddress: config.GATEWAY_LOGIN_MAX_PER_ADDRESS, windowMs: config.GATEWAY_LOGIN_WINDOW_MS },
      maxTokenHours: config.GATEWAY_MAX_TOKEN_HOURS,
      corsOrigins: commaList(config.GATEWAY_CORS_ORIGINS),
      trustedProxies: config.GATEWAY_TRUSTED_PROXIES,
      trustTraceContext: config.GATEWAY_TRUST_TRACE_CONTEXT === "true",
      ...(config.GATEWAY_STATIC_DIR ? { staticDir: config.GATEWAY_STATIC_DIR } : {}),
      addresses: {
        entitlements: config.ENTITLEMENTS_ADDRESS,
        pricing: config.PRICING_ADDRESS,
        ledger: config.LEDGER_ADDRESS,
        notifications: config.NOTIFICATIONS_ADDRESS,
      },
    });
    return { address: gateway.url, metrics: gateway.metrics, stop: gateway.stop };
  },
);
