/**
 * npm run build:services
 *
 * Bundles each service's TypeScript (and the workspace packages it uses) into
 * `services/<name>/dist/main.js`, which `npm start`, the bench and the Docker
 * image run with plain Node. Third-party packages stay in node_modules, loaded
 * by Node itself, so OpenTelemetry's loader hooks still patch gRPC, pg and
 * http; code splitting keeps them out of the entry chunk, so they load only
 * after `registerTelemetry` has installed those hooks. Against `node --import
 * tsx` this leaves the TypeScript loader and the source maps out of every
 * process: in the bench about a fifth less service CPU per pair and a median
 * 30 MiB (16–59) less resident memory in the ledger (bench/README.md).
 */
import { rmSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import type { ServiceName } from "./services.js";

export const SERVICES: readonly ServiceName[] = ["entitlements", "pricing", "ledger", "notifications", "gateway"];

const root = new URL("..", import.meta.url).pathname;

/** Bare imports other than our workspace packages are left for Node to resolve at run time. */
const thirdPartyExternal: Plugin = {
  name: "third-party-external",
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith("@tollgate/") ? undefined : { external: true }));
  },
};

/**
 * Builds the named services' bundles (about a second each), into
 * `services/<name>/dist` or, given `outRoot`, into `<outRoot>/<name>`.
 */
export async function buildServices(names: readonly ServiceName[] = SERVICES, outRoot?: string): Promise<void> {
  await Promise.all(
    names.map((name) => {
      const outdir = outRoot ? `${outRoot}/${name}` : `${root}services/${name}/dist`;
      // Chunk names carry a content hash: an old build's chunks would otherwise stay beside the new ones.
      rmSync(outdir, { recursive: true, force: true });
      return build({
        absWorkingDir: root,
        entryPoints: { main: `services/${name}/src/main.ts` },
        outdir,
        bundle: true,
        splitting: true,
        format: "esm",
        platform: "node",
        // The oldest Node scripts/check-node.mjs accepts.
        target: "node22",
        // Errors are named after their class (`new.target.name`, in logs and answers), and a migration that names
        // no `name` of its own would be recorded by its class name: a bundle must not rename either.
        keepNames: true,
        // Written beside the bundle and read only when NODE_OPTIONS has --enable-source-maps.
        sourcemap: "linked",
        logLevel: "warning",
        plugins: [thirdPartyExternal],
      });
    }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const started = performance.now();
  await buildServices();
  console.log(`built ${SERVICES.map((name) => `services/${name}/dist`).join(", ")} in ${Math.round(performance.now() - started)} ms`);
}
