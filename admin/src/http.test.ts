import { describe, expect, it } from "vitest";
import { recordLoadFailure, toHttpError } from "./http";

describe("a record page's load failure", () => {
  it("is react-admin's 'does not exist' (and a return to the list) only for a 404", () => {
    expect(recordLoadFailure(toHttpError(404, { error: { status: 404, code: "NOT_FOUND", message: "account not found: x" } }))).toEqual({
      notFound: true, message: "ra.notification.item_doesnt_exist",
    });
  });

  it("says a server failure as it is, with the answer's trace id, and keeps the page", () => {
    const headers = new Headers({ "x-trace-id": "4bf92f3577b34da6a3ce929d0e0e4736" });
    const failure = recordLoadFailure(toHttpError(500, { error: { status: 500, code: "INTERNAL", message: "internal error" } }, headers));
    expect(failure).toEqual({
      notFound: false,
      message: "This page could not be loaded: internal error (HTTP 500), trace 4bf92f3577b34da6a3ce929d0e0e4736. Try again, or report the trace.",
    });
    expect(recordLoadFailure(new TypeError("Failed to fetch"))).toEqual({ notFound: false, message: "This page could not be loaded: Failed to fetch. Try again." });
  });
});
