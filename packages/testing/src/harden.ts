import { hardenObjectPrototype } from "@tollgate/grpc-kit";

// Every test process runs as a service process does (runService): without `Object.prototype.__proto__`.
hardenObjectPrototype();
