import type { IncomingMessage, Server } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import FindMyWay, { type HTTPMethod } from "find-my-way";
import { visit, type JSONVisitor } from "jsonc-parser";
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
  const refused = textRefusal(body);
  if (refused) return done(new InvalidArgumentError(...refused));
  done(null, parsed);
}

/**
 * Whether a JSON number's text is the number read: a whole number a double
 * holds exactly (up to 2^53), or else at most 15 significant digits (what a
 * double keeps whatever they are) within range, so `1.0000000000000001` is
 * not taken as 1, nor `1e-400` as 0.
 */
function exactNumber(value: number, written: string): boolean {
  if (/^-?\d+$/.test(written)) return Number.isSafeInteger(value);
  const [, whole = "", fraction = ""] = /^-?(\d+)(?:\.(\d+))?/.exec(written) ?? [];
  const digits = `${whole}${fraction}`.replace(/^0+/, "").replace(/0+$/, "");
  return Number.isFinite(value) && (value !== 0 || digits === "") && digits.length <= 15;
}

/** How deep a body's objects and lists may nest (a console document needs a handful of levels). */
const MAX_DEPTH = 64;

/**
 * What a JSON text holds that its parsed value no longer shows, as [field, problem]:
 * a key repeated within one object (readers disagree on which value it has,
 * RFC 8259 §4, so a proxy or log could see another amount than the one acted
 * on), a text with an escaped lone surrogate (`"\udce9"`, stored as U+FFFD),
 * a number its double does not hold exactly (exactNumber), or nesting deeper
 * than MAX_DEPTH.
 */
function textRefusal(text: string): [string, string] | undefined {
  const open: Set<string>[] = [];
  let depth = 0;
  let refused: [string, string] | undefined;
  const at = (path: (string | number)[]) => path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("") || "body";
  const tooDeep: [string, string] = ["body", `nests deeper than ${MAX_DEPTH} levels`];
  const nest = () => void (++depth > MAX_DEPTH && (refused ??= tooDeep));
  const visitor: JSONVisitor = {
    onObjectBegin: () => (open.push(new Set()), nest()),
    onObjectEnd: () => void (open.pop(), depth--),
    onArrayBegin: nest,
    onArrayEnd: () => void depth--,
    onObjectProperty: (key, _offset, _length, _line, _character, pathOf) => {
      const keys = open.at(-1)!;
      // A key that is not valid Unicode is named by where it sits (its own name would carry the lone surrogate on).
      if (!key.isWellFormed()) refused ??= [at(pathOf()), "has a key that is not valid Unicode (a lone surrogate)"];
      if (keys.has(key)) refused ??= [at([...pathOf(), key]), "is given twice in one object: readers disagree on which value counts, so give each key once"];
      keys.add(key);
    },
    onLiteralValue: (value: unknown, offset, length, _line, _character, pathOf) => {
      if (typeof value === "string" && !value.isWellFormed()) refused ??= [at(pathOf()), "is not valid Unicode text (a lone surrogate)"];
      if (typeof value === "number" && !exactNumber(value, text.slice(offset, offset + length))) {
        refused ??= [at(pathOf()), "has more digits (or a larger or smaller exponent) than a JSON number holds exactly: send it as a string"];
      }
    },
  };
  try {
    visit(text, visitor);
  } catch (error) {
    // The walk recurses per level: nesting in the thousands overflows the stack (JSON.parse took it).
    if (error instanceof RangeError) return tooDeep;
    throw error;
  }
  return refused;
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
    // OPTIONS that no CORS preflight answered (no origins configured) says what the path takes, as RFC 9110 §9.3.7 has it.
    const allow = [...allowed, "OPTIONS"].join(", ");
    if (allowed.length > 0 && request.method === "OPTIONS") return reply.status(204).header("allow", allow).send();
    if (allowed.length > 0) {
      return reply
        .status(405)
        .header("allow", allow)
        .send({ error: { status: 405, code: "METHOD_NOT_ALLOWED", reason: "METHOD_NOT_ALLOWED", message: `${path} takes ${allowed.join(", ")}, not ${request.method}` } });
    }
    return reply.status(404).send({ error: { status: 404, code: "NOT_FOUND", reason: "ROUTE_NOT_FOUND", message: `no such route: ${request.method} ${path}` } });
  };
}

/** The W3C trace context headers (the trace, vendors' state, baggage). */
const TRACE_CONTEXT_HEADERS = ["traceparent", "tracestate", "baggage"];

/**
 * Removes trace context from each request before the HTTP instrumentation
 * reads it (it does so in the server's `request` event), so every request
 * starts its own trace. Calls to the services still carry the gateway's.
 */
export function dropIncomingTraceContext(server: Server): void {
  const emit = server.emit;
  server.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === "request") for (const name of TRACE_CONTEXT_HEADERS) delete (args[0] as IncomingMessage).headers[name];
    return Reflect.apply(emit, this, [event, ...args]) as boolean;
  } as Server["emit"];
}

/** How many times a request gives a header: Node joins some repeated headers into one value ("a, b") and keeps the first of others, so only the raw headers tell. */
export const timesGiven = (request: FastifyRequest, name: string): number =>
  request.raw.rawHeaders.filter((header, i) => i % 2 === 0 && header.toLowerCase() === name).length;
