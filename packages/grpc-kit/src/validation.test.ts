import { InvalidArgumentError } from "@tollgate/errors";
import { commonV1, googleProtobufTimestamp, ledgerV1, pricingV1 } from "@tollgate/proto";
import { expect, it } from "vitest";
import { descriptors, validateMessage } from "./validation.js";

const message = (typeName: string) => descriptors().getMessage(typeName)!;

/** The field and problem a message is refused with, or undefined when it passes. */
function refusalOf(typeName: string, value: object, prefix = ""): { field: string; problem: string } | undefined {
  try {
    validateMessage(message(typeName), value as Record<string, unknown>, prefix);
    return undefined;
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    return { field: error.field, problem: error.message };
  }
}

const charge = (usage: pricingV1.Usage, holdId = "") =>
  ledgerV1.ChargeRequest.fromPartial({ accountId: "acct-1", holdId, usage, final: true, idempotencyKey: "k-1" });

it("passes a valid request, again and again (the plan of a message type is reused)", () => {
  const request = charge({ kind: { $case: "modelReply", modelReply: { model: "m", replies: "3" } } }, "0b1f7a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b");
  for (let i = 0; i < 3; i++) expect(refusalOf("tollgate.ledger.v1.ChargeRequest", request)).toBeUndefined();
});

it("names the refused field by its full path: top-level, nested oneof, list item, map entry", () => {
  expect(refusalOf("tollgate.ledger.v1.ChargeRequest", charge({ kind: { $case: "modelReply", modelReply: { model: "m", replies: "1" } } }, "not-a-uuid"))).toMatchObject({
    field: "hold_id",
  });
  expect(refusalOf("tollgate.ledger.v1.ChargeRequest", charge({ kind: { $case: "modelReply", modelReply: { model: "m".repeat(257), replies: "1" } } }))).toMatchObject({
    field: "usage.model_reply.model",
  });
  expect(refusalOf("tollgate.ledger.v1.ChargeRequest", charge({ kind: { $case: "modelReply", modelReply: { model: "m", replies: String(10n ** 12n + 1n) } } }))).toMatchObject({
    field: "usage.model_reply.replies",
  });
  expect(
    refusalOf("tollgate.ledger.v1.ChargeRequest", charge({ kind: { $case: "blockRun", blockRun: { block: "b", runs: "1", configuration: { size: "large\0" } } } })),
  ).toMatchObject({ field: 'usage.block_run.configuration["size"]' });
  const rate = (model: string): pricingV1.Rate => ({ bucket: commonV1.Bucket.BUCKET_AI, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model, microsPerReply: "1" } } });
  const publish = pricingV1.PublishRateTableRequest.fromPartial({ tableId: "t", actor: "a", reason: "r", rates: [rate("ok"), rate("x".repeat(300))] });
  expect(refusalOf("tollgate.pricing.v1.PublishRateTableRequest", publish)).toMatchObject({ field: "rates[1].model_reply.model" });
  expect(refusalOf("tollgate.pricing.v1.PublishRateTableRequest", publish, "request.")).toMatchObject({ field: "request.rates[1].model_reply.model" });
});

it("refuses undeclared enum values, too many items and out-of-range timestamps", () => {
  const rate = { bucket: 999, unit: commonV1.Unit.UNIT_CREDITS, kind: { $case: "modelReply", modelReply: { model: "m", microsPerReply: "1" } } };
  expect(refusalOf("tollgate.pricing.v1.PublishRateTableRequest", pricingV1.PublishRateTableRequest.fromPartial({ tableId: "t", rates: [rate as pricingV1.Rate] }))).toMatchObject({
    field: "rates[0].bucket",
  });
  const tooMany = Array.from({ length: 2_001 }, () => ({ bucket: commonV1.Bucket.BUCKET_AI }) as pricingV1.Rate);
  expect(refusalOf("tollgate.pricing.v1.PublishRateTableRequest", pricingV1.PublishRateTableRequest.fromPartial({ tableId: "t", rates: tooMany }))).toMatchObject({
    field: "rates",
  });
  const late = pricingV1.PublishRateTableRequest.fromPartial({ tableId: "t", effectiveFrom: new Date("2200-01-01T00:00:00Z") });
  expect(refusalOf("tollgate.pricing.v1.PublishRateTableRequest", late)).toMatchObject({ field: "effective_from" });
});

it("writes a UUID in lower case, as the database prints it, so an id sent in upper case finds its row", () => {
  const request = charge({ kind: { $case: "modelReply", modelReply: { model: "m", replies: "1" } } }, "0B1F7A52-3C4D-4E5F-8A9B-0C1D2E3F4A5B");
  expect(refusalOf("tollgate.ledger.v1.ChargeRequest", request)).toBeUndefined();
  expect(request.holdId).toBe("0b1f7a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b");
  const named = { accountId: "ACCT-1", dimension: "Model" };
  expect(refusalOf("tollgate.ledger.v1.GetTopUsageRequest", named)).toBeUndefined();
  expect(named).toEqual({ accountId: "ACCT-1", dimension: "Model" });
});

it("reads a Timestamp to the millisecond, rounded down: 1 ns before 1970 is refused, 1 ns before 2200 is kept", () => {
  const since = (seconds: string, nanos: number) => {
    const timestamp = googleProtobufTimestamp.Timestamp.encode({ seconds, nanos }).finish();
    const request = ledgerV1.GetTopUsageRequest.encode(ledgerV1.GetTopUsageRequest.fromPartial({ accountId: "acct-1", dimension: "model" })).finish();
    return ledgerV1.GetTopUsageRequest.decode(Buffer.concat([request, Buffer.from([0x1a, timestamp.length]), timestamp]));
  };
  const justBefore1970 = since("-1", 999_999_999);
  expect(justBefore1970.since?.getTime()).toBe(-1);
  expect(refusalOf("tollgate.ledger.v1.GetTopUsageRequest", justBefore1970)?.field).toBe("since");
  const justBefore2200 = since("7258118399", 999_999_999);
  expect(justBefore2200.since?.toISOString()).toBe("2199-12-31T23:59:59.999Z");
  expect(refusalOf("tollgate.ledger.v1.GetTopUsageRequest", justBefore2200)).toBeUndefined();
  expect(since("1700000000", 123_999_999).since?.toISOString()).toBe("2023-11-14T22:13:20.123Z");
});

it("counts a text's bound in characters as a person counts them: an emoji is one, not two", () => {
  const model = (name: string) => charge({ kind: { $case: "modelReply", modelReply: { model: name, replies: "1" } } });
  expect(refusalOf("tollgate.ledger.v1.ChargeRequest", model("🤖".repeat(256)))).toBeUndefined();
  expect(refusalOf("tollgate.ledger.v1.ChargeRequest", model("🤖".repeat(257)))).toMatchObject({ field: "usage.model_reply.model", problem: expect.stringContaining("at most 256 characters") });
});
