// Builds the task views of the plugin folders named on the command line: <plugin>/view/index.tsx
// becomes <plugin>/static/view.js, one ES module with Preact and the toolkit inside (the host
// does not share its own; web/src/contract.ts says why). Run from web/: node build-views.mjs ../plugins/leanlife_ner
import { build } from "esbuild";
import { resolve } from "node:path";

const web = import.meta.dirname;
const plugins = process.argv.slice(2);
if (plugins.length === 0) {
  console.error("usage: node build-views.mjs PLUGIN_FOLDER...");
  process.exit(2);
}
for (const plugin of plugins) {
  const folder = resolve(plugin);
  await build({
    entryPoints: [resolve(folder, "view", "index.tsx")],
    outfile: resolve(folder, "static", "view.js"),
    bundle: true, format: "esm", target: "es2022", minify: true, sourcemap: false, legalComments: "none",
    jsx: "automatic", jsxImportSource: "preact",
    nodePaths: [resolve(web, "node_modules")], // the views live outside web/
    alias: { "@leanlife/kit": resolve(web, "src", "kit", "index.ts") },
    loader: { ".css": "text" },
    logLevel: "warning",
  });
  console.log(`built ${plugin}/static/view.js`);
}
