// Every test process runs as a service process does (runService): without `Object.prototype.__proto__`. Imported from
// its own module, which loads nothing: the whole of @tollgate/grpc-kit here would load grpc-js, pg and the rest before
// a test's telemetry can instrument them, and its spans would never appear.
import { hardenObjectPrototype } from "@tollgate/grpc-kit/harden";

hardenObjectPrototype();
