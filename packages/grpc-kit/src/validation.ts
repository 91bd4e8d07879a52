import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { createFileRegistry, fromBinary, ScalarType, type DescField, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError } from "@tollgate/errors";
import { DEFAULT_MAX_ITEMS, DEFAULT_MAX_LENGTH, ruleOf, TIMESTAMP_RANGE, type FieldRule } from "./request-rules.js";

/**
 * Request validation at the edge, once per message: the request is decoded
 * strictly (invalid UTF-8 and malformed wire data are refused) and walked
 * against its descriptor and the rule table (request-rules.ts) before the
 * handler sees it. A refused request becomes INVALID_ARGUMENT naming the
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
    };
  }
  return guarded as ServiceDefinition;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INTEGER_SCALARS = new Set([
  ScalarType.INT32, ScalarType.INT64, ScalarType.UINT32, ScalarType.UINT64, ScalarType.SINT32, ScalarType.SINT64,
  ScalarType.FIXED32, ScalarType.FIXED64, ScalarType.SFIXED32, ScalarType.SFIXED64,
]);

/** Walks a decoded ts-proto message (camelCase keys, oneofs as `{ $case, [name]: value }`, Timestamps as Date). */
export function validateMessage(desc: DescMessage, message: Record<string, unknown>, prefix: string): void {
  for (const field of desc.fields) {
    const value = field.oneof ? oneofValue(message, field) : message[field.localName];
    if (value === undefined || value === null) continue;
    const path = `${prefix}${field.name}`;
    const rule = ruleOf(desc.typeName, field.name);
    switch (field.fieldKind) {
      case "scalar":
        checkScalar(field.scalar, value, path, rule);
        break;
      case "enum":
        checkEnum(field, value, path);
        break;
      case "message":
        checkMessage(field.message, value, path);
        break;
      case "list": {
        const items = value as unknown[];
        if (items.length > (rule.maxItems ?? DEFAULT_MAX_ITEMS)) throw new InvalidArgumentError(path, `must have at most ${rule.maxItems ?? DEFAULT_MAX_ITEMS} items`);
        items.forEach((item, index) => {
          const at = `${path}[${index}]`;
          if (field.listKind === "scalar") checkScalar(field.scalar, item, at, rule);
          else if (field.listKind === "enum") checkEnum(field, item, at);
          else checkMessage(field.message, item, at);
        });
        break;
      }
      case "map": {
        const entries = Object.entries(value as Record<string, unknown>);
        if (entries.length > (rule.maxItems ?? DEFAULT_MAX_ITEMS)) throw new InvalidArgumentError(path, `must have at most ${rule.maxItems ?? DEFAULT_MAX_ITEMS} entries`);
        for (const [key, item] of entries) {
          const at = `${path}[${JSON.stringify(key.slice(0, 64))}]`;
          checkScalar(ScalarType.STRING, key, at, {});
          if (field.mapKind === "scalar") checkScalar(field.scalar, item, at, {});
          else if (field.mapKind === "enum") checkEnum(field, item, at);
          else checkMessage(field.message, item, at);
        }
        break;
      }
    }
  }
}

function oneofValue(message: Record<string, unknown>, field: DescField): unknown {
  const union = message[field.oneof!.localName] as Record<string, unknown> | undefined;
  return union && union.$case === field.localName ? union[field.localName] : undefined;
}

function checkMessage(desc: DescMessage, value: unknown, path: string): void {
  if (desc.typeName === "google.protobuf.Timestamp") {
    const time = (value as Date).getTime();
    if (!(time >= TIMESTAMP_RANGE.from.getTime() && time < TIMESTAMP_RANGE.to.getTime())) {
      throw new InvalidArgumentError(path, `must be from ${TIMESTAMP_RANGE.from.toISOString()} and before ${TIMESTAMP_RANGE.to.toISOString()}`);
    }
    return;
  }
  validateMessage(desc, value as Record<string, unknown>, `${path}.`);
}

function checkEnum(field: DescField, value: unknown, path: string): void {
  if (!field.enum!.values.some((v) => v.number === value)) throw new InvalidArgumentError(path, `${String(value)} is not a value of ${field.enum!.typeName}`);
}

function checkScalar(scalar: ScalarType | undefined, value: unknown, path: string, rule: FieldRule): void {
  if (scalar === ScalarType.STRING) {
    const text = value as string;
    const maxLength = rule.maxLength ?? DEFAULT_MAX_LENGTH;
    if (text.length > maxLength) throw new InvalidArgumentError(path, `must be at most ${maxLength} characters`);
    if (text.includes("\0")) throw new InvalidArgumentError(path, "must not contain NUL characters");
    if (text && rule.format === "uuid" && !UUID_PATTERN.test(text)) throw new InvalidArgumentError(path, "must be a UUID");
    if (text && rule.format === "digits" && !/^\d{1,19}$/.test(text)) throw new InvalidArgumentError(path, "must be a non-negative integer");
    return;
  }
  if (scalar !== undefined && INTEGER_SCALARS.has(scalar) && (rule.min !== undefined || rule.max !== undefined)) {
    const number = BigInt(value as string | number);
    if (rule.min !== undefined && number < rule.min) throw new InvalidArgumentError(path, `must be at least ${rule.min}`);
    if (rule.max !== undefined && number > rule.max) throw new InvalidArgumentError(path, `must be at most ${rule.max}`);
  }
}
