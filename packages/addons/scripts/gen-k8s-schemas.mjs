#!/usr/bin/env node
// Regenerates test/fixtures/k8s-<version>.schema.json: the OpenAPI v3 schemas of the Kubernetes
// release the spec pins, trimmed to the kinds khw applies and everything they reference.
//
// Source: the module zip of k8s.io/kubernetes@<version> from the Go module proxy
// (api/openapi-spec/v3/*.json — the same files the apiserver of that release serves at /openapi/v3).
//
//   node scripts/gen-k8s-schemas.mjs                 # runs `go mod download -json k8s.io/kubernetes@v1.34.4`
//   node scripts/gen-k8s-schemas.mjs --dir <module>  # an already downloaded module directory
//   … --out <file>                                   # write elsewhere (the freshness test does)
//
// Changes to the upstream schemas, all mechanical:
// - `#/components/schemas/X` refs become `#/definitions/X`; descriptions are dropped (size);
// - strict like `kubeconform -strict`: every object schema with `properties` and no
//   `additionalProperties` (and not x-kubernetes-preserve-unknown-fields) gets
//   `additionalProperties: false`, so a misspelt field is an error, not silently dropped;
// - each kind's root requires `apiVersion`, `kind` and `metadata`, with apiVersion/kind fixed to the
//   values of its `x-kubernetes-group-version-kind` (the apiserver refuses an object without them).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const VERSION = "v1.34.4";
const FILES = [
  "api__v1_openapi.json",
  "apis__apps__v1_openapi.json",
  "apis__rbac.authorization.k8s.io__v1_openapi.json",
];
/** The kinds khw applies: `apiVersion kind`. */
const KINDS = [
  "v1 ConfigMap",
  "v1 Namespace",
  "v1 Pod",
  "v1 Secret",
  "v1 Service",
  "v1 ServiceAccount",
  "apps/v1 DaemonSet",
  "apps/v1 Deployment",
  "rbac.authorization.k8s.io/v1 ClusterRole",
  "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
  "rbac.authorization.k8s.io/v1 Role",
  "rbac.authorization.k8s.io/v1 RoleBinding",
];

const here = dirname(fileURLToPath(import.meta.url));
const outIndex = process.argv.indexOf("--out");
const out =
  outIndex > 0 && process.argv[outIndex + 1]
    ? process.argv[outIndex + 1]
    : join(here, "..", "test", "fixtures", `k8s-${VERSION}.schema.json`);

function moduleDir() {
  const i = process.argv.indexOf("--dir");
  if (i > 0 && process.argv[i + 1]) return process.argv[i + 1];
  const cwd = mkdtempSync(join(tmpdir(), "khw-k8s-mod-"));
  try {
    const json = execFileSync("go", ["mod", "download", "-json", `k8s.io/kubernetes@${VERSION}`], {
      cwd,
      env: { ...process.env, GOFLAGS: "-mod=mod" },
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    return JSON.parse(json).Dir;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

const dir = moduleDir();
const all = {};
for (const f of FILES) {
  const doc = JSON.parse(readFileSync(join(dir, "api", "openapi-spec", "v3", f), "utf8"));
  Object.assign(all, doc.components.schemas);
}

const gvkName = new Map();
for (const [name, schema] of Object.entries(all)) {
  for (const gvk of schema["x-kubernetes-group-version-kind"] ?? []) {
    const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
    const key = `${apiVersion} ${gvk.kind}`;
    if (KINDS.includes(key) && name.startsWith("io.k8s.api.")) gvkName.set(key, name);
  }
}
for (const k of KINDS) if (!gvkName.has(k)) throw new Error(`no schema for ${k} in ${dir}`);

const REF = "#/components/schemas/";
const keep = new Set();
function collect(name) {
  if (keep.has(name)) return;
  if (!all[name]) throw new Error(`dangling ref ${name}`);
  keep.add(name);
  (function walk(o) {
    if (Array.isArray(o)) o.forEach(walk);
    else if (o && typeof o === "object") {
      for (const [k, v] of Object.entries(o)) {
        if (k === "$ref" && typeof v === "string" && v.startsWith(REF)) collect(v.slice(REF.length));
        else walk(v);
      }
    }
  })(all[name]);
}
for (const name of gvkName.values()) collect(name);

function transform(o) {
  if (Array.isArray(o)) return o.map(transform);
  if (!o || typeof o !== "object") return o;
  const r = {};
  for (const k of Object.keys(o).sort()) {
    if (k === "description") continue;
    const v = o[k];
    r[k] = k === "$ref" ? v.replace(REF, "#/definitions/") : transform(v);
  }
  if (r.properties && r.additionalProperties === undefined && !r["x-kubernetes-preserve-unknown-fields"]) {
    r.additionalProperties = false;
  }
  return r;
}

const definitions = {};
for (const name of [...keep].sort()) definitions[name] = transform(all[name]);
const kinds = {};
for (const [key, name] of [...gvkName].sort()) {
  const [apiVersion, kind] = key.split(" ");
  const d = definitions[name];
  d.required = [...new Set([...(d.required ?? []), "apiVersion", "kind", "metadata"])].sort();
  d.properties.apiVersion = { ...d.properties.apiVersion, enum: [apiVersion] };
  d.properties.kind = { ...d.properties.kind, enum: [kind] };
  kinds[key] = name;
}

const bundle = {
  $comment: `Kubernetes ${VERSION} OpenAPI v3 schemas (k8s.io/kubernetes@${VERSION} api/openapi-spec/v3/{${FILES.join(",")}}), trimmed to the kinds khw applies, strict. Regenerate: node scripts/gen-k8s-schemas.mjs`,
  "x-kubernetes-version": VERSION,
  "x-kinds": kinds,
  definitions,
};
writeFileSync(out, `${JSON.stringify(bundle, null, 1)}\n`);
console.log(`wrote ${out}: ${Object.keys(kinds).length} kinds, ${keep.size} definitions`);
