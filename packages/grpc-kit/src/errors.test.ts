import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "@tollgate/errors";
import { errorDetails, fromServiceError } from "./errors.js";

describe("errorDetails", () => {
  it("reads no details from an error that is not a gRPC one (a domain error's metadata is a plain object), rather than throwing", () => {
    const domain = new InvalidArgumentError("recipients[0]", "is not an email address");
    expect(errorDetails(domain)).toMatchObject({ fieldViolations: [], metadata: {} });
    expect(fromServiceError(domain)).toBe(domain);
  });
});
