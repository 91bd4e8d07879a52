import { fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "@tollgate/errors";
import { descriptors } from "./validation.js";

/**
 * A message from its proto3 JSON form (as the console shows and sends it),
 * strictly: an unknown key, a value of the wrong type or an enum value that
 * does not exist is INVALID_ARGUMENT naming `field`, where ts-proto's
 * `fromJSON` would drop the key, zero the value or throw an untyped error.
 * `decode` turns the checked message into the generated type.
 */
export function fromProtoJson<T>(typeName: string, json: unknown, decode: (bytes: Uint8Array) => T, field: string): T {
  const schema = descriptors().getMessage(typeName);
  if (!schema) throw new TypeError(`no message type ${typeName} in the contract`);
  let message;
  try {
    message = fromJson(schema, json as JsonValue);
  } catch (error) {
    throw new InvalidArgumentError(field, (error instanceof Error ? error.message : String(error)).replace(/^cannot decode /, "cannot read "));
  }
  return decode(toBinary(schema, message));
}
