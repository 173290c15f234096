// Bundles the front end into src/overflight/web/static/ (deterministic: same inputs, same bytes).
// Run with `npm ci && npm run build` in frontend/ (scripts/build_web.sh does both).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

const out = process.env.OVERFLIGHT_WEB_OUT || "../src/overflight/web/static";
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  format: "esm",
  minify: true,
  legalComments: "inline",
  target: ["chrome110", "firefox110", "safari16"],
  outfile: `${out}/app.js`,
  logLevel: "warning",
});
// MapLibre's worker and style sheet ship as they are (the worker URL is set in main.js).
copyFileSync("node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs", `${out}/maplibre-gl-worker.mjs`);
copyFileSync("node_modules/maplibre-gl/dist/maplibre-gl.css", `${out}/maplibre-gl.css`);
