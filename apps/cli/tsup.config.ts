import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { defineConfig } from "tsup";
import { khwTsupConfig } from "../../tsup.shared";

const specVersion = (
  JSON.parse(readFileSync("../../packages/spec/package.json", "utf8")) as { version: string }
).version;

// One build: ESM only, code-split, so bin.js and index.js share their chunks and each command's
// modules are a chunk loaded when that command runs. The libraries and third-party modules are
// bundled in (start-up: Node resolves and reads one file per chunk, not hundreds of small modules);
// ssh2 stays external (an optional native binding). The Vagrantfile ships beside it for
// `khw init --vagrant`.
const base = khwTsupConfig(["src/index.ts", "src/bin.ts"]);
export default defineConfig({
  ...base,
  format: ["esm"],
  splitting: true,
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS modules bundled into these ES modules may use __filename/__dirname (write-file-atomic names
  // its temporary files with __filename): tsup's shims define them from import.meta.url where used.
  shims: true,
  noExternal: [/^(?!ssh2$|cpu-features$|node:).*/],
  external: ["ssh2", "cpu-features", "readline/promises"],
  define: { __KHW_SPEC_VERSION__: JSON.stringify(specVersion) },
  banner: {
    // CommonJS modules bundled into ESM (node-forge, yaml) call require for Node's built-ins.
    js: "import { createRequire as __khwCreateRequire } from 'node:module'; const require = __khwCreateRequire(import.meta.url);",
  },
  esbuildPlugins: [
    {
      // khw's own libraries from their TypeScript sources, not their one-file dist builds: esbuild then sees
      // each module and splits them into chunks by the commands that reach them. esbuild follows every
      // import of a module it bundles, used or not, so what must stay out of a command's start-up is kept
      // out by the import it is reached through: `@khw/spec/core` has no zod, `@khw/spec` has all of it.
      name: "khw-sources",
      setup(build) {
        build.onResolve({ filter: /^@khw\/[a-z-]+(\/[a-z-]+)?$/ }, (args) => {
          const [, pkg, sub] = /^@khw\/([a-z-]+)(?:\/([a-z-]+))?$/.exec(args.path)!;
          const file = sub ?? "index";
          for (const root of ["packages", "internal", "apps"]) {
            const path = join(import.meta.dirname, "../..", root, pkg!, "src", `${file}.ts`);
            if (existsSync(path)) return { path };
          }
          return undefined;
        });
      },
    },
    {
      // yaml's ES module build (what its package.json maps every non-Node bundler to) instead of its
      // CommonJS one: no module wrappers evaluated at start-up, and what khw does not use left out.
      // It differs only in !!binary of YAML 1.1 (khw reads the core schema) and in warning through
      // console.warn instead of process.emitWarning.
      name: "yaml-esm",
      setup(build) {
        const dir = dirname(createRequire(import.meta.url).resolve("yaml/package.json"));
        build.onResolve({ filter: /^yaml$/ }, () => ({ path: join(dir, "browser/index.js") }));
      },
    },
    {
      // node-forge's index loads all of it (TLS, PKCS#7/#12, SSH, Ed25519, …: 550 KB, ~40 ms of every
      // `khw gen`); @khw/pki uses its ASN.1, utilities and X.509 encoder only. Its own modules register
      // themselves on the one forge object, as its index does.
      name: "node-forge-x509-only",
      setup(build) {
        build.onResolve({ filter: /^node-forge$/ }, (args) => ({
          path: "node-forge",
          namespace: "node-forge-x509-only",
          pluginData: { resolveDir: args.resolveDir },
        }));
        build.onLoad({ filter: /.*/, namespace: "node-forge-x509-only" }, (args) => ({
          contents: [
            'module.exports = require("node-forge/lib/forge");',
            ...["util", "asn1", "oids", "md.all", "x509"].map((m) => `require("node-forge/lib/${m}");`),
          ].join("\n"),
          resolveDir: (args.pluginData as { resolveDir: string }).resolveDir,
          loader: "js",
        }));
      },
    },
    {
      // zod bundles the error messages of ~50 languages (40 % of its code, parsed at every start);
      // khw speaks English: `z.locales` keeps only `en` (zod's default, configured by zod itself).
      name: "zod-locales-en-only",
      setup(build) {
        build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
          /[\\/]zod[\\/]v4[\\/]/.test(args.importer)
            ? { path: join(dirname(args.importer), "../locales"), namespace: "zod-locales-en" }
            : undefined,
        );
        build.onLoad({ filter: /.*/, namespace: "zod-locales-en" }, (args) => ({
          contents: 'export { default as en } from "./en.js";\n',
          resolveDir: args.path,
          loader: "js",
        }));
      },
    },
  ],
  onSuccess: async () => {
    copyFileSync("../../Vagrantfile", "dist/Vagrantfile");
  },
});
