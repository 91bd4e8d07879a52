import { describe, expect, it } from "vitest";
import { ConfigError } from "@tollgate/config";
import { serverAuthFromEnv } from "./env.js";

const variableOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => i.variable);
    throw error;
  }
  return [];
};

describe("secure by default", () => {
  it("refuses to start without trusted issuers, naming AUTH_ISSUERS, on any address", () => {
    expect(variableOf(() => serverAuthFromEnv({ GRPC_HOST: "0.0.0.0", AUTH_DISABLED: "false" }))).toEqual(["AUTH_ISSUERS"]);
    expect(variableOf(() => serverAuthFromEnv({ GRPC_HOST: "127.0.0.1", AUTH_DISABLED: "false" }))).toEqual(["AUTH_ISSUERS"]);
  });

  it("turns authentication off only when asked, and only on loopback", () => {
    expect(variableOf(() => serverAuthFromEnv({ GRPC_HOST: "0.0.0.0", AUTH_DISABLED: "true" }))).toEqual(["AUTH_DISABLED"]);
    expect(serverAuthFromEnv({ GRPC_HOST: "127.0.0.1", AUTH_DISABLED: "true" })).toEqual({ disabled: true });
  });

  it("names AUTH_ISSUERS when it is not an issuer map", () => {
    expect(variableOf(() => serverAuthFromEnv({ GRPC_HOST: "0.0.0.0", AUTH_DISABLED: "false", AUTH_ISSUERS: "{}" }))).toEqual(["AUTH_ISSUERS"]);
    expect(variableOf(() => serverAuthFromEnv({ GRPC_HOST: "0.0.0.0", AUTH_DISABLED: "false", AUTH_ISSUERS: '{"me":{"keys":[]}}' }))).toEqual([]);
  });
});
