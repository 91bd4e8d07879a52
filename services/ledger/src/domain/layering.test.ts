import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { expect, it } from "vitest";

const domain = new URL(".", import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

it("nothing under domain/ imports the data layer or the transport (the rules stay pure)", () => {
  const offending = files(domain).flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/from\s+"([^"]+)"/g)]
      .map((m) => m[1]!)
      .filter((spec) => /(^|\/)\.\.\/(\.\.\/)*(data|transport|app)\//.test(spec) || /^@tollgate\/(db|proto|grpc-kit)$/.test(spec) || spec === "pg" || spec.startsWith("@mikro-orm/"))
      .map((spec) => `${relative(domain, file)} imports ${spec}`),
  );
  expect(offending).toEqual([]);
});
