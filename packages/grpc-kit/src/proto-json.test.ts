import { InvalidArgumentError } from "@tollgate/errors";
import { describe, expect, it } from "vitest";
import { fromProtoJson, jsonFieldPath } from "./proto-json.js";
import { pricingV1 } from "@tollgate/proto";

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
      problem: 'must be one of UNIT_CREDITS, UNIT_TOOL_RUNS, UNIT_USD, not "UNIT_GOLD"',
    });
    expect(refusalOf("tollgate.pricing.v1.Rate", { model_token: 5 }, "rate")).toEqual({ field: "rate.model_token", problem: "must be an object, not 5" });
    const inList = refusalOf("tollgate.entitlements.v1.Plan", { planId: "p", allotments: [{ unit: "UNIT_CREDITS" }, { unit: "UNIT_CREDITS", amountMicros: "ten" }] }, "plan");
    expect(inList.field).toBe("plan.allotments[1].amountMicros");
    expect(inList.problem).not.toMatch(/tollgate\./);
  });

  it("names the message itself when each key reads alone but not together", () => {
    expect(refusalOf("tollgate.pricing.v1.Rate", { modelToken: {}, block: {} }, "rates[0]")).toEqual({ field: "rates[0]", problem: "takes one of modelToken and block, not both" });
  });

  it("names the item of a list it refuses, and says what was expected in plain words", () => {
    const plan = (allotment: object) => ({ planId: "p", allotments: [{ unit: "UNIT_CREDITS" }, allotment] });
    expect(refusalOf("tollgate.entitlements.v1.Plan", plan({ buckets: ["BUCKET_AI", "BUCKET_X"] }), "plan")).toEqual({
      field: "plan.allotments[1].buckets[1]",
      problem: 'must be one of BUCKET_AI, BUCKET_COMPUTE, BUCKET_PLATFORM, BUCKET_TOOL_RUNS, not "BUCKET_X"',
    });
    expect(refusalOf("tollgate.entitlements.v1.Plan", { allotments: "20" }, "plan")).toEqual({ field: "plan.allotments", problem: 'must be a list, not "20"' });
    expect(refusalOf("tollgate.pricing.v1.Rate", { modelReply: { model: 5 } }, "rate")).toEqual({ field: "rate.modelReply.model", problem: "must be text, not 5" });
  });

  it("names a map's entry, a null item and a time that is not RFC 3339 text, without the library's renderings (Array(1), object)", () => {
    const block = (microsPerRunByValue: unknown) => ({ bucket: "BUCKET_AI", block: { block: "b", microsPerRunByValue } });
    expect(refusalOf("tollgate.pricing.v1.Rate", block(["1"]), "rate")).toEqual({ field: "rate.block.microsPerRunByValue", problem: "must be an object, not a list" });
    expect(refusalOf("tollgate.pricing.v1.Rate", block({ a: "1", b: null }), "rate")).toEqual({ field: 'rate.block.microsPerRunByValue["b"]', problem: "must not be null" });
    expect(refusalOf("tollgate.pricing.v1.Rate", block({ a: {} }), "rate")).toEqual({ field: 'rate.block.microsPerRunByValue["a"]', problem: "must be a whole number, not an object" });
    expect(refusalOf("tollgate.entitlements.v1.Plan", { planId: "p", allotments: [null] }, "plan")).toEqual({ field: "plan.allotments[0]", problem: "must be an object, not null" });
    expect(refusalOf("tollgate.entitlements.v1.Plan", { planId: "p", drawdownOrder: ["POOL_KIND_BONUS", null] }, "plan")).toEqual({ field: "plan.drawdownOrder[1]", problem: "must not be null" });
    const when = (effectiveFrom: unknown) => refusalOf("tollgate.pricing.v1.PublishRateTableRequest", { tableId: "t", effectiveFrom }, "table");
    expect(when({ seconds: 1 })).toEqual({ field: "table.effectiveFrom", problem: 'must be a time written as RFC 3339 text, like "2026-12-01T00:00:00Z", not an object' });
    expect(when("yesterday")).toEqual({ field: "table.effectiveFrom", problem: 'must be a time written as RFC 3339 text, like "2026-12-01T00:00:00Z", not "yesterday"' });
    expect(refusalOf("tollgate.pricing.v1.PublishRateTableRequest", { tableId: ["t"] }, "table")).toEqual({ field: "table.tableId", problem: "must be text, not a list" });
    // A whole number past its type's range says so, rather than that it is not a whole number.
    expect(refusalOf("tollgate.pricing.v1.Rate", { bucket: "BUCKET_AI", toolRun: { tool: "t", microsPerRun: "99999999999999999999" } }, "rate")).toEqual({
      field: "rate.toolRun.microsPerRun",
      problem: "must be a whole number that fits 64 bits (from -9223372036854775808 to 9223372036854775807), not 99999999999999999999",
    });
  });

  it("takes a 64-bit integer as digits only: a sign other than -, spaces or hexadecimal would be read as another number", () => {
    for (const written of ["0x10", " 1", "+1", "1e3", "1.5", ""]) {
      const refused = refusalOf("tollgate.pricing.v1.Rate", { modelReply: { model: "m", microsPerReply: written } }, "rates[0]");
      expect(refused, written).toEqual({ field: "rates[0].modelReply.microsPerReply", problem: expect.stringContaining("must be a whole number written in digits") });
    }
    expect(refusalOf("tollgate.pricing.v1.Rate", { block: { block: "b", microsPerRunByValue: { fast: "0x1" } } }, "rates[0]").field).toBe('rates[0].block.microsPerRunByValue["fast"]');
    expect(refusalOf("tollgate.entitlements.v1.Plan", { allotments: [{ amountMicros: "+5" }] }, "plan").field).toBe("plan.allotments[0].amountMicros");
    expect(fromProtoJson("tollgate.pricing.v1.Rate", { modelReply: { model: "m", microsPerReply: "-20" } }, pricingV1.Rate.decode, "rate").kind).toMatchObject({ modelReply: { microsPerReply: "-20" } });
  });

  it("writes a contract's field path as the JSON does, leaving map keys and indexes as they are", () => {
    expect(jsonFieldPath("rates[0].block.micros_per_run_by_value[\"gpt_4o\"]")).toBe('rates[0].block.microsPerRunByValue["gpt_4o"]');
    expect(jsonFieldPath("plan.limits[10].low_credit_limit_micros")).toBe("plan.limits[10].lowCreditLimitMicros");
  });

  it("reads a valid message", () => {
    const bytes = fromProtoJson("tollgate.pricing.v1.Rate", { bucket: "BUCKET_AI", unit: "UNIT_CREDITS", modelReply: { model: "m", microsPerReply: "5" } }, (b) => b, "rate");
    expect(bytes.length).toBeGreaterThan(0);
  });
});
