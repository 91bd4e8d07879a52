import { fromJson, toBinary, type DescField, type DescMessage, type JsonValue, type ScalarType } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "@tollgate/errors";
import { descriptors, enumNames, INTEGER_SCALARS } from "./validation.js";

/**
 * A message from its proto3 JSON form (as the console shows and sends it),
 * strictly: an unknown key, a value of the wrong type or an enum value that
 * does not exist is INVALID_ARGUMENT naming the key where it sits under
 * `field` (`rates[0].bucket`), where ts-proto's `fromJSON` would drop the
 * key, zero the value or throw an untyped error. `decode` turns the checked
 * message into the generated type.
 */
export function fromProtoJson<T>(typeName: string, json: unknown, decode: (bytes: Uint8Array) => T, field: string): T {
  const schema = descriptors().getMessage(typeName);
  if (!schema) throw new TypeError(`no message type ${typeName} in the contract`);
  const malformed = integerRefusal(schema, json, field);
  if (malformed) throw new InvalidArgumentError(...malformed);
  let message;
  try {
    message = fromJson(schema, json as JsonValue);
  } catch (error) {
    const [at, problem] = refusal(schema, json, field) ?? [field, problemOf(error)];
    throw new InvalidArgumentError(at, problem);
  }
  return decode(toBinary(schema, message));
}

/**
 * Where in `json` the first value `schema` refuses sits, and why: each key is
 * read on its own, and a message (or a list of them) it refuses is searched
 * in turn. Undefined when every key reads alone (two keys of one oneof).
 */
function refusal(schema: DescMessage, json: unknown, path: string): [string, string] | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return [path, `must be an object, not ${shown(json)}`];
  for (const [key, value] of Object.entries(json)) {
    const at = `${path}.${key}`;
    const field = fieldNamed(schema, key);
    if (!field) return [at, "is not a known field"];
    const refused = (candidate: unknown): unknown => {
      try {
        fromJson(schema, { [key]: candidate } as JsonValue);
        return undefined;
      } catch (error) {
        return error;
      }
    };
    const error = refused(value);
    if (error === undefined) continue;
    const nested = nestedMessage(field);
    if (field.fieldKind === "map" && value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [entryKey, entry] of Object.entries(value)) {
        const entryError = refused({ [entryKey]: entry });
        if (entryError !== undefined) return [`${at}[${JSON.stringify(entryKey.slice(0, 64))}]`, problemOf(entryError, field, entry)];
      }
    }
    if (field.fieldKind === "list" && Array.isArray(value)) {
      for (let index = 0; index < value.length; index++) {
        const inner = nested ? refusal(nested, value[index], `${at}[${index}]`) : undefined;
        if (inner) return inner;
        const itemError = nested ? undefined : refused([value[index]]);
        if (itemError !== undefined) return [`${at}[${index}]`, problemOf(itemError, field, value[index])];
      }
    } else if (nested && field.fieldKind === "message" && value !== null) {
      const inner = refusal(nested, value, at);
      if (inner) return inner;
    }
    return [at, problemOf(error, field, value)];
  }
  return undefined;
}

/**
 * The first 64-bit integer written as text that is not plain digits: the
 * library reads `"0x10"`, `" 1"` and `"+1"` as numbers (a typo would become
 * a price), where the platform's amounts take digits and a minus sign alone.
 */
function integerRefusal(schema: DescMessage, json: unknown, path: string): [string, string] | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = fieldNamed(schema, key);
    if (!field || value === null) continue;
    const at = `${path}.${key}`;
    const items = field.fieldKind === "list" && Array.isArray(value) ? value.map((item, index) => [item, `${at}[${index}]`] as const) : [[value, at] as const];
    for (const [item, itemPath] of items) {
      const refused = integerItemRefusal(field, item, itemPath);
      if (refused) return refused;
    }
  }
  return undefined;
}

/** integerRefusal for one value of `field` (the field's own, or one item of its list). */
function integerItemRefusal(field: DescField, item: unknown, path: string): [string, string] | undefined {
  const nested = nestedMessage(field);
  if (nested) return integerRefusal(nested, item, path);
  if (field.fieldKind === "map") {
    if (field.mapKind !== "scalar" || !isInteger(field.scalar) || !item || typeof item !== "object") return undefined;
    const malformed = Object.entries(item).find(([, entry]) => malformedInteger(entry));
    return malformed ? [`${path}[${JSON.stringify(malformed[0].slice(0, 64))}]`, INTEGER_PROBLEM] : undefined;
  }
  const scalar = field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar") ? field.scalar : undefined;
  return isInteger(scalar) && malformedInteger(item) ? [path, INTEGER_PROBLEM] : undefined;
}

/** The field a JSON key names: its JSON name (`modelReply`) or its contract name (`model_reply`), as the reader takes both. */
const fieldNamed = (schema: DescMessage, key: string): DescField | undefined => schema.fields.find((f) => f.jsonName === key || f.name === key);

const INTEGER_PROBLEM = 'must be a whole number written in digits, like "1500", "-20" or 1500 (no "+", spaces or hexadecimal)';
const isInteger = (scalar: ScalarType | undefined): boolean => scalar !== undefined && INTEGER_SCALARS.has(scalar);
const malformedInteger = (value: unknown): boolean => typeof value === "string" && !/^-?\d+$/.test(value);

/** The message type of a field holding one or a list of messages the console writes as objects (not a well-known type such as a Timestamp, written as a string). */
function nestedMessage(field: DescField): DescMessage | undefined {
  const message = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined;
  return message && !message.typeName.startsWith("google.protobuf.") ? message : undefined;
}

/**
 * The library's reason in the console's words, without its type names ("cannot decode field tollgate.pricing.v1.Rate.bucket from JSON: …")
 * or its renderings of values (`Array(2)`, `object`); `value` is what the field (or the list item or map entry) was given.
 */
function problemOf(error: unknown, field?: DescField, value?: unknown): string {
  const reason = (error instanceof Error ? error.message : String(error))
    .replace(/^cannot decode \S+ \S+ from JSON: /, "")
    .replace(/^map entry "(?:[^"\\]|\\.)*": /, "")
    .replace(/\bArray\(\d+\)$/, "a list")
    .replace(/\bgot object$/, "got an object");
  if (field?.fieldKind === "message" && field.message.typeName === "google.protobuf.Timestamp") return `must be a time written as RFC 3339 text, like "2026-12-01T00:00:00Z", not ${shown(value)}`;
  if (value === null || reason === "map value must not be null") return "must not be null";
  const enumeration = field?.fieldKind === "enum" || (field?.fieldKind === "list" && field.listKind === "enum") ? field.enum : undefined;
  if (enumeration && !/^expected /.test(reason)) return `must be one of ${enumNames(enumeration)}, not ${reason}`;
  const [, expected, type, got, outOfRange] = /^expected ([^\s,:]+)(?: \(([^)]*)\))?[,:]? (?:got )?(.*?)( out of range)?$/.exec(reason) ?? [];
  if (expected && outOfRange) return `must be ${EXPECTED[expected] ?? expected} that fits ${RANGES[type ?? ""] ?? "its type"}, not ${got}`;
  if (expected) return `must be ${EXPECTED[expected] ?? expected}, not ${got}`;
  const oneof = /^oneof set multiple times by (\S+) and (\S+)$/.exec(reason);
  if (oneof) return `takes one of ${jsonFieldPath(oneof[1]!)} and ${jsonFieldPath(oneof[2]!)}, not both`;
  return reason;
}

/** The ranges of the integer types, as a refusal names them. */
const RANGES: Record<string, string> = {
  int64: "64 bits (from -9223372036854775808 to 9223372036854775807)",
  uint64: "64 bits (from 0 to 18446744073709551615)",
  int32: "32 bits (from -2147483648 to 2147483647)",
  uint32: "32 bits (from 0 to 4294967295)",
};
const EXPECTED: Record<string, string> = { Array: "a list", object: "an object", string: "text", boolean: "true or false", bigint: "a whole number", number: "a number", Object: "an object" };
/**
 * A field path as the contract names it (`rates[0].model_reply.micros_per_reply`) as proto3 JSON writes it
 * (`rates[0].modelReply.microsPerReply`); map keys and indexes in brackets are left as they are.
 */
export const jsonFieldPath = (path: string): string =>
  path.replace(/(\[[^\]]*\])|_([a-z0-9])/g, (_, bracket: string | undefined, letter: string | undefined) => bracket ?? letter!.toUpperCase());

const shown = (value: unknown): string =>
  Array.isArray(value) ? "a list" : value === null ? "null" : typeof value === "object" ? "an object" : JSON.stringify(value);
