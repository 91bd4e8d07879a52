import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "@tollgate/errors";
import { cursorToken, numbersToken, pageScope, scopedToken, tokenCursor, tokenNumbers, tokenPosition } from "./paging.js";

describe("page tokens bound to their list and filters", () => {
  const request = { accountId: "acme", attribution: { team: "a", model: "m" }, page: { pageSize: 10, pageToken: "" } };

  it("a scope is the list and every field but the page, whatever the order of a map's keys", () => {
    const scope = pageScope("ListEntries", request);
    expect(pageScope("ListEntries", { ...request, page: { pageSize: 500, pageToken: "x~y" } })).toBe(scope);
    expect(pageScope("ListEntries", { ...request, attribution: { model: "m", team: "a" } })).toBe(scope);
    expect(pageScope("ListEntries", { ...request, accountId: "acme2" })).not.toBe(scope);
    expect(pageScope("ListEntries", { ...request, attribution: { team: "a" } })).not.toBe(scope);
    expect(pageScope("ListHolds", request)).not.toBe(scope);
    expect(pageScope("GetTopUsage", { since: new Date(0) })).not.toBe(pageScope("GetTopUsage", { since: new Date(1) }));
  });

  it("a token gives back its position in its own scope only; the first page has none", () => {
    const scope = pageScope("ListEntries", request);
    expect(scopedToken(scope, "")).toBe("");
    expect(tokenPosition(scope, "")).toBe("");
    expect(tokenPosition(scope, undefined)).toBe("");
    const token = scopedToken(scope, "eyJ4Ijox");
    expect(tokenPosition(scope, token)).toBe("eyJ4Ijox");
    expect(encodeURIComponent(token)).toBe(token);

    const other = pageScope("ListEntries", { ...request, accountId: "other" });
    expect(() => tokenPosition(other, token)).toThrow(InvalidArgumentError);
    expect(() => tokenPosition(other, token)).toThrow("page.page_token: was handed out for another list or other filters");
    expect(() => tokenPosition(scope, "eyJ4Ijox")).toThrow("page.page_token: is not a page token this service handed out");
    expect(() => tokenPosition(scope, "12", "page_token")).toThrow("page_token: is not a page token");
    for (const edited of ["~", "~12", `${scope}~`]) expect(() => tokenPosition(scope, edited), edited).toThrow("page.page_token: is not a page token this service handed out");
  });

  it("a token of whole numbers gives back exactly as many as it was made of", () => {
    expect(tokenNumbers(numbersToken([2, 1_764_979_200_000, 0]), 3)).toEqual([2, 1_764_979_200_000, 0]);
    for (const edited of ["2.1", "2.1.0.4", "2.-1.0", "2..0", "2.1e3.0", "2.1.1234567890123456"]) {
      expect(() => tokenNumbers(edited, 3), edited).toThrow("page.page_token: is not a page token this service handed out");
    }
  });
});

describe("newest-first cursors in page tokens", () => {
  it("give back the cursor they were made of, and refuse an id of the wrong shape for the list's ids", () => {
    const cursor = { createdAtMicros: 1_764_000_000_123_456n, accountId: "acme", id: "9223372036854775807" };
    expect(tokenCursor(cursorToken(cursor), "bigint")).toEqual(cursor);
    expect(tokenCursor("", "bigint")).toBeUndefined();
    // An edited id would reach the database as a malformed bigint: refused as a token this service did not hand out.
    for (const id of ["9223372036854775808", "0", "-1", "12a", "1e3", "01"]) {
      expect(() => tokenCursor(cursorToken({ ...cursor, id }), "bigint"), id).toThrow(InvalidArgumentError);
    }
    expect(() => tokenCursor(cursorToken({ ...cursor, id: "12a" }), "uuid")).toThrow(InvalidArgumentError);
    expect(tokenCursor(cursorToken({ ...cursor, id: "12a" }))).toEqual({ ...cursor, id: "12a" });
  });
});
