import { InvalidArgumentError } from "@tollgate/errors";
import { describe, expect, it } from "vitest";
import { fromProtoJson } from "./proto-json.js";

function refusalOf(typeName: string, json: unknown, field: string): { field: string; problem: string } {
  try {
    fromProtoJson(typeName, json, (bytes) => bytes, field);
  } catch (error) {
    if (error instanceof InvalidArgumentError) return { field: error.field, problem: error.problem };
    throw error;
  }
  throw new Error("read without a refusal");
}

describe("fromProtoJson", () => {
  it("names the key it refuses where it sits, in the words of the JSON, without the contract's type names", () => {
    expect(refusalOf("tollgate.pricing.v1.Rate", { bucket: "BUCKET_AI", modelToken: { model: "m", inputMicrosPerTokn: "1" } }, "rates[2]")).toEqual({
      field: "rates[2].modelToken.inputMicrosPerTokn",
      problem: "is not a known field",
    });
    expect(refusalOf("tollgate.pricing.v1.Rate", { unit: "UNIT_GOLD" }, "rates[0]")).toEqual({
      field: "rates[0].unit",
      problem: '"UNIT_GOLD" is not one of UNIT_CREDITS, UNIT_TOOL_RUNS, UNIT_USD',
    });
    expect(refusalOf("tollgate.pricing.v1.Rate", { model_token: 5 }, "rate")).toEqual({ field: "rate.model_token", problem: "must be an object, not 5" });
    const inList = refusalOf("tollgate.entitlements.v1.Plan", { planId: "p", allotments: [{ unit: "UNIT_CREDITS" }, { unit: "UNIT_CREDITS", amountMicros: "ten" }] }, "plan");
    expect(inList.field).toBe("plan.allotments[1].amountMicros");
    expect(inList.problem).not.toMatch(/tollgate\./);
  });

  it("names the message itself when each key reads alone but not together", () => {
    expect(refusalOf("tollgate.pricing.v1.Rate", { modelToken: {}, block: {} }, "rates[0]").field).toBe("rates[0]");
  });

  it("reads a valid message", () => {
    const bytes = fromProtoJson("tollgate.pricing.v1.Rate", { bucket: "BUCKET_AI", unit: "UNIT_CREDITS", modelReply: { model: "m", microsPerReply: "5" } }, (b) => b, "rate");
    expect(bytes.length).toBeGreaterThan(0);
  });
});
