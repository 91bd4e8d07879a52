import { describe, expect, it } from "vitest";
import { attributionOf } from "./usage.js";

describe("attribution of usage", () => {
  it("fills the model, tool or block the usage names when the caller left it out", () => {
    expect(attributionOf({ kind: "model_reply", model: "gpt-4o", replies: 1n }, { user_id: "ana" })).toEqual({ user_id: "ana", model: "gpt-4o" });
    expect(attributionOf({ kind: "tool_run", tool: "web-search", runs: 2n }, {})).toEqual({ tool: "web-search" });
    expect(attributionOf({ kind: "block_run", block: "pii-scanner", configuration: {}, runs: 1n } as never, {})).toEqual({ block: "pii-scanner" });
  });

  it("keeps what the caller said, and adds nothing for usage that names none", () => {
    expect(attributionOf({ kind: "model_reply", model: "gpt-4o", replies: 1n }, { model: "router-v2" })).toEqual({ model: "router-v2" });
    expect(attributionOf({ kind: "tool_run", tool: "", runs: 1n }, { agent_id: "a" })).toEqual({ agent_id: "a" });
    expect(attributionOf({ kind: "active_time", seconds: 5n }, {})).toEqual({});
  });
});
