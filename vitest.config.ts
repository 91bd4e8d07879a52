import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["admin/src/**/*.test.ts", "packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits for what a page or a service shows eventually: 1 s by default, too short on a loaded 2-core runner.
    expect: { poll: { timeout: 10_000 } },
    pool: "forks",
    globalSetup: ["packages/testing/src/global-setup.ts"],
    // The services run in the test processes: hardened as runService hardens a service process.
    setupFiles: ["packages/testing/src/harden.ts"],
  },
});
