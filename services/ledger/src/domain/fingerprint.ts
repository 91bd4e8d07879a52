import { createHash } from "node:crypto";

/** A stable hash of a command, binding an idempotency key to one request body. */
export function fingerprint(command: unknown): string {
  const canonical = JSON.stringify(command, (_key, value) => {
    if (typeof value === "bigint") return value.toString();
    if (value && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date)) {
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
    }
    return value;
  });
  return createHash("sha256").update(canonical).digest("hex");
}
