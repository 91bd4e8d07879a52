import { describe, expect, it } from "vitest";
import { executeCall, inline } from "./sql-literals.js";

describe("values written into a statement", () => {
  it("escapes quotes and backslashes, and writes plain values as they are", () => {
    expect(inline("select $1, $2, $3, $4", ["acme", 42n, null, "it's a \\ path"])).toBe("select E'acme', E'42', null, E'it''s a \\\\ path'");
    expect(executeCall("charge_rows", [7, "o'hara"])).toBe("execute charge_rows(E'7', E'o''hara')");
  });

  it("writes arrays as array literals, each element quoted and escaped, missing ones as NULL", () => {
    expect(inline("$1::text[]", [["a", null, 'say "hi"', "back\\slash", "it's"]])).toBe(`E'{"a",NULL,"say \\\\"hi\\\\"","back\\\\\\\\slash","it''s"}'::text[]`);
    expect(inline("$1::bigint[]", [[1n, 2n]])).toBe(`E'{"1","2"}'::bigint[]`);
  });

  it("writes objects as JSON", () => {
    expect(inline("$1::jsonb", [{ note: "o'k" }])).toBe(`E'{"note":"o''k"}'::jsonb`);
  });
});
