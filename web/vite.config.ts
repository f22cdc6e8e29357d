import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build lands inside the Python package, so `pip install` ships the UI and
// `scenaria serve` serves it at `/`; nobody runs a front-end build to use it.
export default defineConfig({
  plugins: [react()],
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
