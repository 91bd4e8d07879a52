import { describe, expect, it } from "vitest";
import { ConfigError, env, loadConfig } from "./index.js";

describe("loadConfig", () => {
  it("applies documented defaults", () => {
    const config = loadConfig({ PORT: env.port(50051) }, {});
    expect(config.PORT).toBe(50051);
  });

  it("names every bad variable at once", () => {
    const load = () =>
      loadConfig(
        { PORT: env.port(1), DATABASE_URL: env.url() },
        { PORT: "not-a-port" },
      );
    expect(load).toThrow(ConfigError);
    try {
      load();
    } catch (error) {
      const variables = (error as ConfigError).issues.map((i) => i.variable);
      expect(variables).toEqual(["PORT", "DATABASE_URL"]);
      expect((error as Error).message).toContain("PORT");
    }
  });
});
