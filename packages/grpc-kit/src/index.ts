export { startGrpcServer, onShutdownSignal, type ServiceBinding, type RunningServer, type GrpcServerOptions } from "./server.js";
export { unary, serverStream, type CallContext, type HandlerOptions, type RequestScope } from "./handlers.js";
export { toServiceError, errorDetails, type ErrorDetails } from "./errors.js";
export { createClient, call } from "./client.js";
export { mikroOrmScope } from "./orm-scope.js";
export { pageSize, page, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./paging.js";
export { runService } from "./main.js";
export { rpcMetricsInterceptor } from "./rpc-metrics.js";
