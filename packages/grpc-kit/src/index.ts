export { startGrpcServer, onShutdownSignal, type ServiceBinding, type RunningServer, type GrpcServerOptions } from "./server.js";
export { unary, serverStream, type CallContext, type HandlerOptions, type RequestScope } from "./handlers.js";
export { toServiceError, errorDetails, traceIdOf, fromServiceError, upstream, type ErrorDetails } from "./errors.js";
export { validatingDefinition, validateMessage, descriptors } from "./validation.js";
export { FIELD_RULES, DEFAULT_MAX_ITEMS, DEFAULT_MAX_LENGTH, TIMESTAMP_RANGE, type FieldRule } from "./request-rules.js";
export { createClient, call } from "./client.js";
export { mikroOrmScope } from "./orm-scope.js";
export { pageSize, page, pageOffset, encodedSize, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGE_BYTES } from "./paging.js";
export { runService } from "./main.js";
