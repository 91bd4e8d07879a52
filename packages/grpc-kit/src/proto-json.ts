import { fromJson, toBinary, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "@tollgate/errors";
import { descriptors } from "./validation.js";

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
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) return [at, "is not a known field"];
    try {
      fromJson(schema, { [key]: value } as JsonValue);
      continue;
    } catch (error) {
      const nested = nestedMessage(field);
      if (nested && Array.isArray(value) && field.fieldKind === "list") {
        for (let index = 0; index < value.length; index++) {
          const inner = refusal(nested, value[index], `${at}[${index}]`);
          if (inner) return inner;
        }
      } else if (nested && field.fieldKind === "message" && value !== null) {
        const inner = refusal(nested, value, at);
        if (inner) return inner;
      }
      return [at, field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum") ? enumProblem(field, error) : problemOf(error)];
    }
  }
  return undefined;
}

/** The message type of a field holding one or a list of messages the console writes as objects (not a well-known type such as a Timestamp, written as a string). */
function nestedMessage(field: DescField): DescMessage | undefined {
  const message = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined;
  return message && !message.typeName.startsWith("google.protobuf.") ? message : undefined;
}

function enumProblem(field: DescField, error: unknown): string {
  const values = field.enum!.values.filter((v) => v.number !== 0).map((v) => v.name);
  return `${problemOf(error)} is not one of ${values.join(", ")}`;
}

/** The library's reason without its type names ("cannot decode field tollgate.pricing.v1.Rate.bucket from JSON: …"). */
function problemOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^cannot decode \S+ \S+ from JSON: /, "");
}

const shown = (value: unknown): string => (Array.isArray(value) ? "a list" : value === null ? "null" : JSON.stringify(value));
