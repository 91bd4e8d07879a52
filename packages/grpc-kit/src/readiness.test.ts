import { afterEach, expect, it } from "vitest";
import { startMetrics, type ServiceMetrics } from "@tollgate/telemetry";
import { startGrpcServer, type RunningServer } from "./server.js";

let metrics: ServiceMetrics | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.drain();
  await metrics?.shutdown();
});

const probe = async (path: string) => {
  const answer = await fetch(metrics!.url.replace("/metrics", path));
  return { status: answer.status, body: await answer.text() };
};

it("answers /healthz while the process serves, and /readyz from the gRPC server's bind until it starts draining", async () => {
  metrics = await startMetrics({ serviceName: "probe-test", port: 0 });
  // Before the service says what ready means, it is not.
  expect(await probe("/readyz")).toEqual({ status: 503, body: "not ready\n" });
  expect(await probe("/healthz")).toEqual({ status: 200, body: "ok\n" });
  expect((await fetch(metrics.url.replace("/metrics", "/healthz"), { method: "HEAD" })).status).toBe(200);

  server = await startGrpcServer({ services: [], port: 0, auth: { disabled: true }, reflection: false });
  metrics.setReadiness(server.serving);
  expect(await probe("/readyz")).toEqual({ status: 200, body: "ready\n" });

  await server.drain();
  expect(await probe("/readyz")).toEqual({ status: 503, body: "not ready\n" });
  expect(await probe("/healthz")).toEqual({ status: 200, body: "ok\n" });
  expect((await fetch(metrics.url.replace("/metrics", "/readyz"), { method: "POST" })).status).toBe(404);
});
