import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import FindMyWay, { type HTTPMethod } from "find-my-way";
import { visit } from "jsonc-parser";
import secureJson from "secure-json-parse";
import { InvalidArgumentError } from "@tollgate/errors";

/** What secure-json-parse says of a key it refuses; for malformed text it passes JSON.parse's own SyntaxError on. */
const POISONED = /forbidden prototype property/;

/** UTF-8 as RFC 8259 §8.1 has JSON sent: bytes that are not are refused, not read as U+FFFD (a byte order mark is skipped). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * JSON bodies as Fastify's own reader takes them, with the same library (a
 * `__proto__` key, or a `constructor` holding `prototype`, is refused: it
 * would poison an object it is merged into), saying which of the two is
 * wrong rather than "not valid JSON" for both. Register with `parseAs: "buffer"`.
 */
export function readJsonBody(_request: FastifyRequest, bytes: Buffer, done: (error: Error | null, body?: unknown) => void): void {
  if (bytes.length === 0) return done(new InvalidArgumentError("body", "is empty: send a JSON object, or no content-type"));
  let body: string;
  try {
    body = UTF8.decode(bytes);
  } catch {
    return done(new InvalidArgumentError("body", "is not valid UTF-8"));
  }
  let parsed: unknown;
  try {
    parsed = secureJson.parse(body, undefined, { protoAction: "error", constructorAction: "error" });
  } catch (error) {
    const message = (error as Error).message;
    return done(new InvalidArgumentError("body", POISONED.test(message) ? 'must not have a key named "__proto__", nor a "constructor" holding "prototype"' : `is not valid JSON: ${message}`));
  }
  const repeated = repeatedKey(body);
  if (repeated) return done(new InvalidArgumentError(repeated, "is given twice in one object: readers disagree on which value counts, so give each key once"));
  done(null, parsed);
}

/**
 * Where a JSON text first repeats a key within one object (`rates[0].bucket`), or
 * undefined: readers disagree on which value such a key has (RFC 8259 §4), so a
 * proxy or log reading it could see another amount than the one acted on.
 */
function repeatedKey(text: string): string | undefined {
  const open: Set<string>[] = [];
  let first: string | undefined;
  visit(text, {
    onObjectBegin: () => void open.push(new Set()),
    onObjectEnd: () => void open.pop(),
    onObjectProperty: (key, _offset, _length, _line, _character, pathOf) => {
      const keys = open.at(-1)!;
      if (keys.has(key)) first ??= [...pathOf(), key].map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
      keys.add(key);
    },
  });
  return first;
}

const METHODS: HTTPMethod[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/**
 * The API's routes by path alone, to tell a method a path does not take
 * (405, with the methods it does in `Allow`, RFC 9110 §15.5.6) from a path
 * that does not exist (404). Register before the routes, with the app's router options.
 */
export function methodsByPath(app: FastifyInstance, routerOptions: { maxParamLength: number; ignoreDuplicateSlashes: boolean }): (path: string) => HTTPMethod[] {
  const api = FindMyWay(routerOptions);
  app.addHook("onRoute", (route) => {
    if (!route.url.startsWith("/api/")) return;
    for (const method of [route.method].flat() as HTTPMethod[]) if (METHODS.includes(method) && !api.hasRoute(method, route.url)) api.on(method, route.url, () => undefined);
  });
  return (path) => METHODS.filter((method) => api.find(method, path) !== null);
}

/** The answer to a request no route took: 405 where the path takes other methods (204 listing them for OPTIONS), else 404, in the API's error shape. */
export function notFound(allowedOf: (path: string) => HTTPMethod[]) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0]!;
    const allowed = allowedOf(path);
    // OPTIONS that no CORS preflight answered (no origins configured): what the path takes, as RFC 9110 §9.3.7 has it.
    if (allowed.length > 0 && request.method === "OPTIONS") return reply.status(204).header("allow", [...allowed, "OPTIONS"].join(", ")).send();
    if (allowed.length > 0) {
      return reply
        .status(405)
        .header("allow", allowed.join(", "))
        .send({ error: { status: 405, code: "METHOD_NOT_ALLOWED", reason: "METHOD_NOT_ALLOWED", message: `${path} takes ${allowed.join(", ")}, not ${request.method}` } });
    }
    return reply.status(404).send({ error: { status: 404, code: "NOT_FOUND", reason: "ROUTE_NOT_FOUND", message: `no such route: ${request.method} ${path}` } });
  };
}
