import { expect, it } from "vitest";
import { FIELD_RULES } from "./request-rules.js";
import { descriptors } from "./validation.js";

it("every rule names a field of the committed contract (a renamed field cannot silently lose its bound)", () => {
  const messages = [...descriptors()].flatMap((type) => (type.kind === "message" ? [type] : []));
  const fieldNames = new Set(messages.flatMap((m) => m.fields.map((f) => f.name)));
  const stale = Object.keys(FIELD_RULES).filter((key) => {
    if (key.startsWith("*.")) return !fieldNames.has(key.slice(2));
    const dot = key.lastIndexOf(".");
    const message = messages.find((m) => m.typeName === key.slice(0, dot));
    return !message?.fields.some((f) => f.name === key.slice(dot + 1));
  });
  expect(stale).toEqual([]);
});
