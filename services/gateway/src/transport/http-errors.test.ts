import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { toHttpError } from "./http-errors.js";

/** A status as grpc-js hands it to the caller. */
const grpcError = (code: status, details: string) => Object.assign(new Error(details), { code, details, metadata: new Metadata() });

describe("toHttpError", () => {
  it("answers a RESOURCE_EXHAUSTED that is not a rate limit (an answer over the message size limit) 503 with its message, not 500", () => {
    const tooLarge = toHttpError(grpcError(status.RESOURCE_EXHAUSTED, "Received message larger than max (4194400 vs 4194304)"));
    expect(tooLarge).toEqual({
      status: 503,
      body: { error: { status: 503, code: "RESOURCE_EXHAUSTED", message: "Received message larger than max (4194400 vs 4194304)" } },
    });
  });
});
