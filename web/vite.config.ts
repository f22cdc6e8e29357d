import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

const require = createRequire(import.meta.url);

/** Swagger UI's bundle and stylesheet, copied into the build so `/docs` works on a
 * machine without internet (FastAPI's default page loads them from a CDN). */
function swaggerUi(): Plugin {
  const read = (file: string) => readFileSync(require.resolve(`swagger-ui-dist/${file}`));
  return {
    name: "scenaria-swagger-ui",
    apply: "build",
    generateBundle() {
      for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
        // The source maps are not shipped: drop the comment that would fetch one.
        const source = read(file)
          .toString("utf-8")
          .replace(/\/[/*]# sourceMappingURL=[^\n]*\s*$/, "");
        this.emitFile({ type: "asset", fileName: `assets/swagger-ui/${file}`, source });
      }
      this.emitFile({ type: "asset", fileName: "assets/swagger-ui/favicon-32x32.png", source: read("favicon-32x32.png") });
    },
  };
}

// The build lands inside the Python package, so `pip install` ships the UI and
// `scenaria serve` serves it at `/`; nobody runs a front-end build to use it.
export default defineConfig({
  plugins: [react(), swaggerUi()],
  base: "/",
  build: {
    outDir: "../src/scenaria/web/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "^/(scenarios|profiles|databases|segments|node-kinds|scenario-attributes|stats|messages|tasks|docs|openapi.json)":
        "http://127.0.0.1:8000",
    },
  },
});
