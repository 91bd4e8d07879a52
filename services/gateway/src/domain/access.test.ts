import { describe, expect, it } from "vitest";
import { requireReason, UserDirectory, withDemoUsers } from "./access.js";

describe("requireReason", () => {
  it("keeps a reason in any script, trimmed, with its line breaks and direction marks", () => {
    expect(requireReason("  refund for the outage \n")).toBe("refund for the outage");
    expect(requireReason("החזר כספי\u200f")).toBe("החזר כספי\u200f");
    expect(requireReason("退款了")).toBe("退款了");
    // A short word whose vowels are combining marks counts them (two letters and a vowel sign).
    expect(requireReason("ठीक")).toBe("ठीक");
    // Its bound counts characters as a person does: a thousand emoji fit in 1024.
    expect(requireReason("🙂".repeat(1000))).toBe("🙂".repeat(1000));
    expect(() => requireReason("🙂".repeat(1025))).toThrow("must be at most 1024 characters");
  });

  it("counts only what a reader sees toward the three characters", () => {
    for (const reason of ["ok", " a b ", "\u202e\u202e\u202e\u202e", "\u200b\u200b\u200bab", "\u2066\u2069\u200f", "\u3164\u3164\u3164", "\u2800\u2800\u2800", "\u115f\u115f\u115f", "\u034f\u034f\u034f", "\u0301\u0301\u0301", 42, undefined]) {
      expect(() => requireReason(reason), JSON.stringify(reason)).toThrow("say why, in a few words");
    }
  });

  it("refuses characters that make the audit log show it in another order than it was written", () => {
    expect(() => requireReason("refund \u202e001 stiderc")).toThrow(/bidirectional/);
    expect(() => requireReason("refund \u2066100\u2069 credits")).toThrow(/bidirectional/);
  });
});

describe("UserDirectory", () => {
  it("takes a password holding colons: the name is before the first, the role after the last", () => {
    const users = new UserDirectory("alice:pa:ss:admin,bob:b0b:viewer");
    expect(users.verify("alice", "pa:ss")).toEqual({ username: "alice", role: "admin" });
    expect(users.verify("alice", "pa")).toBeUndefined();
    expect(users.verify("bob", "b0b")).toEqual({ username: "bob", role: "viewer" });
  });

  it("names a malformed entry by its place and user, never with its password", () => {
    for (const spec of ["alice:hunter2:operater", "ok:fine:viewer,alice:hunter2", "alice::admin"]) {
      expect(() => new UserDirectory(spec), spec).toThrow(/GATEWAY_USERS: entry \d \(user "alice"\)/);
      try {
        new UserDirectory(spec);
      } catch (error) {
        expect((error as Error).message).not.toContain("hunter2");
      }
    }
  });

  it("refuses a name given twice", () => {
    expect(() => new UserDirectory("admin:S3cret-long:admin,admin:admin:admin")).toThrow('user "admin" is given twice');
  });
});

describe("withDemoUsers", () => {
  it("adds the demo logins but for names configured already, whose passwords stay", () => {
    const users = new UserDirectory(withDemoUsers("admin:S3cret-long:admin,zoe:zz:operator"));
    expect(users.verify("admin", "admin")).toBeUndefined();
    expect(users.verify("admin", "S3cret-long")).toEqual({ username: "admin", role: "admin" });
    expect(users.verify("viewer", "viewer")).toEqual({ username: "viewer", role: "viewer" });
    expect(users.verify("operator", "operator")).toEqual({ username: "operator", role: "operator" });
    expect(new UserDirectory(withDemoUsers("")).verify("admin", "admin")).toEqual({ username: "admin", role: "admin" });
  });
});
