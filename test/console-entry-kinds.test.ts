/** The console's kind filter offers every kind of journal entry the ledger writes (ledger.proto `EntryKind`), named as the gateway names them. */
import { describe, expect, it } from "vitest";
import { ledgerV1 } from "@tollgate/proto";
import { ENTRY_KIND_NAMES } from "../admin/src/api-types.js";

describe("the console's entry kinds", () => {
  it("are the ledger's, every one", () => {
    const kinds = Object.values(ledgerV1.EntryKind)
      .filter((k): k is ledgerV1.EntryKind => typeof k === "number" && k > 0)
      .map((k) => ledgerV1.entryKindToJSON(k).replace(/^ENTRY_KIND_/, "").toLowerCase());
    expect(kinds).toContain("reverse");
    expect([...ENTRY_KIND_NAMES].sort()).toEqual(kinds.sort());
  });
});
