import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Two pages: index.html (the standalone console the gateway serves) and
// host.html (a host back office mounting the plugin). Relative base so the
// build works under any path the gateway serves it from.
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2500,
    rolldownOptions: {
      input: {
        index: new URL("./index.html", import.meta.url).pathname,
        host: new URL("./host.html", import.meta.url).pathname,
      },
    },
  },
});
