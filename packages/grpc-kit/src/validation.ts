import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { createFileRegistry, fromBinary, ScalarType, type DescEnum, type DescField, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError } from "@tollgate/errors";
import { googleProtobufTimestamp } from "@tollgate/proto";
import { activeTraceId, logInternal } from "./errors.js";
import { DEFAULT_MAX_ITEMS, DEFAULT_MAX_LENGTH, FIELD_RULES, ruleOf, TIMESTAMP_RANGE, type FieldRule } from "./request-rules.js";

/**
 * Request validation at the edge, once per message: the request is decoded
 * strictly (invalid UTF-8 and malformed wire data are refused) and walked
 * against its descriptor and the rule table (request-rules.ts) before the
 * handler sees it. Each message type's fields, rules and checks are resolved
 * once (`planOf`); a walk looks nothing up and builds a field's path only
 * when it refuses it. A refused request becomes INVALID_ARGUMENT naming the
 * field, through the usual error mapping.
 */

let registry: FileRegistry | undefined;
export function descriptors(): FileRegistry {
  if (!registry) {
    const require = createRequire(import.meta.url);
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(require.resolve("@tollgate/proto/descriptor.binpb"))));
  }
  return registry;
}

const REFUSED = Symbol("refused request");
type Refused = { [REFUSED]: InvalidArgumentError };

/** The error of a request refused while decoding, if it was. */
export function refusal(request: unknown): InvalidArgumentError | undefined {
  return request !== null && typeof request === "object" && REFUSED in request ? (request as Refused)[REFUSED] : undefined;
}

/**
 * ts-proto turns a Timestamp into a Date as it decodes, adding nanos outside
 * 0–999,999,999 (which the Timestamp type forbids) to the seconds: the Date
 * cannot tell. So a Timestamp whose nanos are out of their range decodes as
 * BAD_NANOS, the earliest time a Date holds, which the walk refuses for its
 * nanos; unless the time it stands for is outside TIMESTAMP_RANGE anyway,
 * which is the refusal it gets (ts-proto's own encoder writes a time before
 * 1970 with negative nanos). Nanos in range are cut to whole milliseconds
 * first, so the Date is the time rounded down, as a Date holds any time:
 * ts-proto's sum in floating point would take 1 ns before 1970 for 1970
 * itself, and round a time near 2200 up by a millisecond. Wrapped once;
 * every decoder of the process (requests and answers) shares the wrapper.
 */
const MAX_NANOS = 999_999_999;
const BAD_NANOS = new Date(-8.64e15);
/** Whether a time (epoch ms) is one a request may carry (TIMESTAMP_RANGE). */
const withinTimestampRange = (ms: number): boolean => ms >= TIMESTAMP_RANGE.from.getTime() && ms < TIMESTAMP_RANGE.to.getTime();
const { Timestamp } = googleProtobufTimestamp;
const decodeTimestamp = Timestamp.decode.bind(Timestamp);
Timestamp.decode = (input, length) => {
  const timestamp = decodeTimestamp(input, length);
  const { seconds, nanos } = timestamp;
  if (nanos >= 0 && nanos <= MAX_NANOS) return { seconds, nanos: nanos - (nanos % 1_000_000) };
  // The time ts-proto makes of it (its fromTimestamp): seconds and nanos added.
  const ms = Number(seconds) * 1000 + nanos / 1e6;
  return withinTimestampRange(ms) ? { seconds: String(BAD_NANOS.getTime() / 1000), nanos: 0 } : timestamp;
};

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const decodeUtf8 = (bytes: Uint8Array) => strictUtf8.decode(bytes);

/**
 * A service definition whose request deserializers decode strictly and
 * validate. A refused request reaches the handler wrapper (`unary`,
 * `serverStream`) as a marker it turns into INVALID_ARGUMENT: grpc-js itself
 * would answer any deserializer error with INTERNAL.
 */
export function validatingDefinition(serviceName: string, definition: ServiceDefinition): ServiceDefinition {
  const service = descriptors().getService(serviceName);
  const guarded: Record<string, ServiceDefinition[string]> = {};
  for (const [key, method] of Object.entries(definition)) {
    const input = service?.methods.find((m) => method.path.endsWith(`/${m.name}`))?.input;
    guarded[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        let request: unknown;
        try {
          // ts-proto's decode accepts a reader; this one refuses invalid UTF-8 instead of replacing it.
          request = (method.requestDeserialize as (input: unknown) => unknown)(new BinaryReader(bytes, decodeUtf8));
        } catch (error) {
          const problem = error instanceof TypeError && /encod|utf/i.test(error.message) ? "a string is not valid UTF-8" : "is not a valid protobuf message";
          return { [REFUSED]: new InvalidArgumentError("request", problem) } satisfies Refused;
        }
        if (!input) return request;
        try {
          validateMessage(input, request as Record<string, unknown>, "");
        } catch (error) {
          if (error instanceof InvalidArgumentError) return { [REFUSED]: error } satisfies Refused;
          throw error;
        }
        return request;
      },
      // An answer the encoder refuses is grpc-js's INTERNAL ("Error serializing response"), past every handler: said here.
      responseSerialize: (value: unknown) => {
        try {
          return method.responseSerialize(value);
        } catch (error) {
          logInternal(error, activeTraceId(), "internal error: the answer could not be encoded", { method: method.path });
          throw error;
        }
      },
    };
  }
  return guarded as ServiceDefinition;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGITS_PATTERN = /^\d{1,19}$/;
/**
 * One plain email address, as the HTML standard's email inputs take it
 * (https://html.spec.whatwg.org/#valid-e-mail-address), widened to letters,
 * marks and digits of any script for internationalized addresses. No display
 * name, group, comment, quoting, space or control character, which a mail
 * library would read as another address or strip; the part before `@` at most
 * 64 characters, as SMTP carries it (RFC 5321 §4.5.3.1.1).
 */
const EMAIL_PATTERN = /^(?=[^@]{1,64}@)[\p{L}\p{M}\p{Nd}.!#$%&'*+/=?^_`{|}~-]+@[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}]*(?:-+[\p{L}\p{M}\p{Nd}]+)*(?:\.[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}]*(?:-+[\p{L}\p{M}\p{Nd}]+)*)*$/u;
/** An absolute http(s) URL: a host (no user name or password: no `@` before the path), then any path, query or fragment, and no space or control character anywhere. */
const HTTP_URL_PATTERN = /^https?:\/\/[^\s\p{Cc}/?#@]+(?:[/?#][^\s\p{Cc}]*)?$/u;
/**
 * Bidirectional embeddings, overrides and isolates (U+202A–U+202E,
 * U+2066–U+2069): in text that people read back (a reason in the journal and
 * the audit log) they show it in another order than it was written.
 */
export const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;
/** Text people read: line breaks and tabs, but no other control character (C0 or C1) and no bidirectional control. */
const PROSE_PATTERN = new RegExp(`^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f${BIDI_CONTROLS.source.slice(1, -1)}]*$`);
/** A name: no control character at all and no bidirectional control. */
const NAME_PATTERN = new RegExp(`^[^\\u0000-\\u001f\\u007f-\\u009f${BIDI_CONTROLS.source.slice(1, -1)}]*$`);
/** Whether a text is a name (no control or bidirectional character), as the `name` format of request-rules.ts checks it. */
export const isName = (text: string): boolean => NAME_PATTERN.test(text);
const PATTERNS = {
  uuid: [UUID_PATTERN, "must be a UUID"],
  digits: [DIGITS_PATTERN, "must be a non-negative integer"],
  email: [EMAIL_PATTERN, "must be one plain email address, like ops@example.com"],
  http_url: [HTTP_URL_PATTERN, "must be an http or https URL without spaces, user name or password, like https://api.example.com/v1"],
  prose: [PROSE_PATTERN, "must not contain control characters other than tabs and line breaks, or bidirectional embedding, override or isolate characters (U+202A–U+202E, U+2066–U+2069)"],
  name: [NAME_PATTERN, "must not contain control characters or bidirectional embedding, override or isolate characters (U+202A–U+202E, U+2066–U+2069)"],
} as const;
/**
 * A text's length in characters (code points), as a person counts them: an
 * emoji is one, where JavaScript's `length` counts two. Counted only when
 * `length` is over a bound it could matter to (it never undercounts).
 */
export function characters(text: string, over = 0): number {
  if (text.length <= over) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** The bound of an actor's name: that of a request's `*.actor` field (request-rules.ts). */
export const MAX_ACTOR_LENGTH = FIELD_RULES["*.actor"]!.maxLength!;
/**
 * Whether a text may be recorded as who acted (the journal, the audit log)
 * and shown in the console: what a request's `*.actor` field may be, and not
 * empty. A credential's subject and the person a service acts for are checked
 * by it.
 */
export const isActorName = (text: string): boolean => boundedName(text, MAX_ACTOR_LENGTH);
/** Whether a text could be an account's id: what a request's `account_id` takes (request-rules.ts), and not empty. */
export const isAccountId = (text: string): boolean => boundedName(text, FIELD_RULES["*.account_id"]!.maxLength!);

/** A name (`isName`) of 1 to `max` characters. */
function boundedName(text: string, max: number): boolean {
  return text !== "" && characters(text, max) <= max && isName(text);
}

export const INTEGER_SCALARS: ReadonlySet<ScalarType> = new Set([
  ScalarType.INT32, ScalarType.INT64, ScalarType.UINT32, ScalarType.UINT64, ScalarType.SINT32, ScalarType.SINT64,
  ScalarType.FIXED32, ScalarType.FIXED64, ScalarType.SFIXED32, ScalarType.SFIXED64,
]);

/**
 * A refused value, thrown from deep in a message and given its path on the
 * way out: the walk builds no path string unless something is refused. The
 * path is relative to the value being checked ("" for the value itself).
 */
class FieldRefusal {
  constructor(readonly problem: string, public path = "") {}
}

/** A refusal from inside the value at `segment` (a field name, `[index]` or `[key]`), its path re-based on that value's parent. */
function within(error: unknown, segment: string): unknown {
  if (!(error instanceof FieldRefusal)) return error;
  error.path = error.path === "" || error.path.startsWith("[") ? `${segment}${error.path}` : `${segment}.${error.path}`;
  return error;
}

/** Checks one present value (a field, a list item, a map value); throws FieldRefusal. */
type Check = (value: unknown) => void;

/** What a message type's fields need, resolved once per type: the field's reader, its rules and its check. */
interface FieldPlan {
  name: string;
  read: (message: Record<string, unknown>) => unknown;
  check: Check;
  /** Writes a checked value in its one spelling, for a field that has one: a UUID in lower case (RFC 9562 reads either case). */
  canonical?: (message: Record<string, unknown>, value: unknown) => void;
}

const plans = new Map<DescMessage, FieldPlan[]>();

/** The fields of a message type with their rules looked up once (request-rules.ts), cached per type. */
function planOf(desc: DescMessage): FieldPlan[] {
  let plan = plans.get(desc);
  if (!plan) {
    plan = desc.fields.map((field) => ({ name: field.name, read: readerOf(field), check: fieldCheck(desc, field), ...canonicalOf(desc, field) }));
    plans.set(desc, plan);
  }
  return plan;
}

function readerOf(field: DescField): (message: Record<string, unknown>) => unknown {
  const name = field.localName;
  if (!field.oneof) return (message) => message[name];
  const union = field.oneof.localName;
  return (message) => {
    const value = message[union] as Record<string, unknown> | undefined;
    return value && value.$case === name ? value[name] : undefined;
  };
}

/** A UUID field (top level, not in a oneof: all of them) is kept in lower case, so ids compare as the database prints them. */
function canonicalOf(desc: DescMessage, field: DescField): Pick<FieldPlan, "canonical"> {
  if (field.fieldKind !== "scalar" || field.oneof || ruleOf(desc.typeName, field.name).format !== "uuid") return {};
  const name = field.localName;
  return { canonical: (message, value) => void (message[name] = (value as string).toLowerCase()) };
}

function fieldCheck(desc: DescMessage, field: DescField): Check {
  const rule = ruleOf(desc.typeName, field.name);
  switch (field.fieldKind) {
    case "scalar":
      return scalarCheck(field.scalar, rule);
    case "enum":
      return enumCheck(field);
    case "message":
      return messageCheck(field.message);
    case "list": {
      const maxItems = rule.maxItems ?? DEFAULT_MAX_ITEMS;
      const item = field.listKind === "scalar" ? scalarCheck(field.scalar, rule) : field.listKind === "enum" ? enumCheck(field) : messageCheck(field.message);
      return (value) => {
        const items = value as unknown[];
        if (items.length > maxItems) throw new FieldRefusal(`must have at most ${maxItems} items`);
        for (let index = 0; index < items.length; index++) {
          try {
            item(items[index]);
          } catch (error) {
            throw within(error, `[${index}]`);
          }
        }
      };
    }
    case "map": {
      const maxItems = rule.maxItems ?? DEFAULT_MAX_ITEMS;
      const key = scalarCheck(ScalarType.STRING, {});
      const item = field.mapKind === "scalar" ? scalarCheck(field.scalar, {}) : field.mapKind === "enum" ? enumCheck(field) : messageCheck(field.message);
      return (value) => {
        const entries = Object.entries(value as Record<string, unknown>);
        if (entries.length > maxItems) throw new FieldRefusal(`must have at most ${maxItems} entries`);
        for (const [name, entry] of entries) {
          try {
            key(name);
            item(entry);
          } catch (error) {
            throw within(error, `[${JSON.stringify(name.slice(0, 64))}]`);
          }
        }
      };
    }
  }
}

function walk(plan: FieldPlan[], message: Record<string, unknown>): void {
  for (const field of plan) {
    const value = field.read(message);
    if (value === undefined || value === null) continue;
    try {
      field.check(value);
    } catch (error) {
      throw within(error, field.name);
    }
    field.canonical?.(message, value);
  }
}

/**
 * Walks a decoded ts-proto message (camelCase keys, oneofs as `{ $case, [name]: value }`, Timestamps as Date), and writes
 * what passes in its one spelling where a field has one (a UUID in lower case).
 */
export function validateMessage(desc: DescMessage, message: Record<string, unknown>, prefix: string): void {
  try {
    walk(planOf(desc), message);
  } catch (error) {
    if (error instanceof FieldRefusal) throw new InvalidArgumentError(`${prefix}${error.path}`, error.problem);
    throw error;
  }
}

function messageCheck(desc: DescMessage): Check {
  if (desc.typeName === "google.protobuf.Timestamp") {
    const problem = `must be from ${TIMESTAMP_RANGE.from.toISOString()} and before ${TIMESTAMP_RANGE.to.toISOString()}`;
    const badNanos = `has nanos outside 0 to ${MAX_NANOS}`;
    return (value) => {
      const time = (value as Date).getTime();
      if (time === BAD_NANOS.getTime()) throw new FieldRefusal(badNanos);
      if (!withinTimestampRange(time)) throw new FieldRefusal(problem);
    };
  }
  // Resolved at first use: a message type may contain itself.
  let plan: FieldPlan[] | undefined;
  return (value) => walk((plan ??= planOf(desc)), value as Record<string, unknown>);
}

function enumCheck(field: DescField): Check {
  const values = new Set(field.enum!.values.map((v) => v.number));
  const names = enumNames(field.enum!);
  return (value) => {
    if (!values.has(value as number)) throw new FieldRefusal(`must be one of ${names}, not ${String(value)}`);
  };
}

/** An enum's values a request may name (not the unset zero), for a refusal's message. */
export const enumNames = (enumeration: DescEnum): string =>
  enumeration.values
    .filter((v) => v.number !== 0)
    .map((v) => v.name)
    .join(", ");

const unchecked: Check = () => undefined;

function scalarCheck(scalar: ScalarType | undefined, rule: FieldRule): Check {
  if (scalar === ScalarType.STRING) {
    const maxLength = rule.maxLength ?? DEFAULT_MAX_LENGTH;
    const [pattern, malformed] = rule.format ? PATTERNS[rule.format] : [undefined, ""];
    return (value) => {
      const text = value as string;
      if (characters(text, maxLength) > maxLength) throw new FieldRefusal(`must be at most ${maxLength} characters`);
      if (rule.minLength !== undefined && characters(text) < rule.minLength) throw new FieldRefusal(rule.minLength === 1 ? "must not be empty" : `must be at least ${rule.minLength} characters`);
      if (text.includes("\0")) throw new FieldRefusal("must not contain NUL characters");
      if (text && pattern && !pattern.test(text)) throw new FieldRefusal(malformed);
    };
  }
  if (scalar !== undefined && INTEGER_SCALARS.has(scalar) && (rule.min !== undefined || rule.max !== undefined)) {
    const { min, max } = rule;
    return (value) => {
      const number = BigInt(value as string | number);
      if (min !== undefined && number < min) throw new FieldRefusal(`must be at least ${min}`);
      if (max !== undefined && number > max) throw new FieldRefusal(`must be at most ${max}`);
    };
  }
  return unchecked;
}
