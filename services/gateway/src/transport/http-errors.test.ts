import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { UnavailableError } from "@tollgate/errors";
import { toServiceError } from "@tollgate/grpc-kit";
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

  it("tells of a call that failed on the way in plain words, without grpc-js's addresses and timings, and keeps a service's own", () => {
    const unreachable = toHttpError(grpcError(status.UNAVAILABLE, "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:50052. Resolution note: "));
    expect(unreachable.status).toBe(503);
    expect(unreachable.body.error.message).toMatch(/^a service is unreachable for a moment/);
    const late = toHttpError(grpcError(status.DEADLINE_EXCEEDED, "Deadline exceeded after 9.999s,remote_addr=127.0.0.1:50053"));
    expect(late.status).toBe(504);
    expect(late.body.error.message).toMatch(/^a service did not answer in time/);
    expect(JSON.stringify([unreachable, late])).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|remote_addr/);
    const draining = toHttpError(toServiceError(new UnavailableError("the ledger is shutting down: try another replica", "SHUTTING_DOWN")));
    expect(draining.body.error).toMatchObject({ status: 503, message: "the ledger is shutting down: try another replica", reason: "SHUTTING_DOWN" });
  });
});
