import { describe, expect, it } from "vitest";
import { formatMicros } from "@tollgate/rating";
import { csvField, ENTRY_CSV_HEADER, ENTRY_CSV_TRUNCATED, entryCsvLine, MAX_EXPORT_ROWS } from "./entries-csv.js";
import type { entryView } from "./views.js";

describe("entries as CSV", () => {
  it("quotes what needs quoting and disarms text a spreadsheet would run as a formula, keeping amounts' signs", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('said "hi", left')).toBe('"said ""hi"", left"');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("=HYPERLINK(\"http://evil\")")).toBe(`"'=HYPERLINK(""http://evil"")"`);
    expect(csvField("+1")).toBe("'+1");
    expect(csvField("@sum")).toBe("'@sum");
    expect(csvField("-5.25", false)).toBe("-5.25");
  });

  it("writes amounts in whole units exactly beside the micro-units", () => {
    expect(formatMicros("2000000000")).toBe("2000");
    expect(formatMicros("-5250000")).toBe("-5.25");
    expect(formatMicros("1")).toBe("0.000001");
    expect(formatMicros(0n)).toBe("0");
    expect(formatMicros("-999999999999999999")).toBe("-999999999999.999999");
  });

  it("writes one line per entry under the header, in the header's order", () => {
    const entry = {
      id: "42", created_at: "2026-12-01T10:00:00.000Z", occurred_at: "2026-11-30T18:00:00.000Z", account_id: "acme", kind: "charge", unit: "credits", bucket: "ai",
      amount_micros: "-5000000", uncollected_micros: "0", hold_id: "h-1", reason: "", actor: "chat-backend", on_behalf_of: "=cmd",
      attribution: { agent_id: "agent-1", model: "gpt-4o" }, rate_table_id: "default", rate_table_version: "3", trace_id: "abc",
      lines: [], reverses_entry_id: null, reversed_by_entry_id: null,
    } as ReturnType<typeof entryView>;
    const header = ENTRY_CSV_HEADER.trimEnd().split(",");
    const fields = entryCsvLine(entry).trimEnd().split(",");
    expect(fields).toHaveLength(header.length);
    const row = Object.fromEntries(header.map((name, i) => [name, fields[i]]));
    expect(row).toMatchObject({ entry_id: "42", occurred_at: "2026-11-30T18:00:00.000Z", kind: "charge", amount: "-5", amount_micros: "-5000000", on_behalf_of: "'=cmd", attribution: "agent_id=agent-1; model=gpt-4o", reverses_entry_id: "" });
  });

  it("writes attribution pairs that no value can imitate: %, ; and = inside a key or value are percent-encoded", () => {
    const entry = {
      id: "43", created_at: null, occurred_at: null, account_id: "acme", kind: "charge", unit: "credits", bucket: "ai", amount_micros: "-1", uncollected_micros: "0",
      hold_id: "", reason: "", actor: "meter", on_behalf_of: "", attribution: { user_id: "mallory; workspace_id=ws-victim", agent_id: "100%" },
      rate_table_id: "", rate_table_version: "", trace_id: "", lines: [], reverses_entry_id: null, reversed_by_entry_id: null,
    } as unknown as ReturnType<typeof entryView>;
    const header = ENTRY_CSV_HEADER.trimEnd().split(",");
    const row = Object.fromEntries(header.map((name, i) => [name, entryCsvLine(entry).trimEnd().split(",")[i]]));
    expect(row.attribution).toBe("user_id=mallory%3B workspace_id%3Dws-victim; agent_id=100%25");
  });

  it("ends an export cut at its limit with a line saying so, in the header's shape", () => {
    // The reason holds a comma, so it is quoted: count the fields outside quotes.
    const fields = ENTRY_CSV_TRUNCATED.trimEnd().replace(/"[^"]*"/g, "Q").split(",");
    expect(fields).toHaveLength(ENTRY_CSV_HEADER.trimEnd().split(",").length);
    expect(fields[0]).toBe("(truncated)");
    expect(ENTRY_CSV_TRUNCATED).toContain(`"the export stops at ${MAX_EXPORT_ROWS} entries: narrow it by kind, hold or attribution"`);
  });
});
