// Validates objects against the OpenAPI v3 schemas of the pinned Kubernetes release with Ajv.
// The schema bundle is test/fixtures/k8s-v1.34.4.schema.json (see scripts/gen-k8s-schemas.mjs for
// its source and the mechanical changes made to it).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

export const K8S_SCHEMA_VERSION = "v1.34.4";
const bundleFile = join(
  fileURLToPath(new URL(".", import.meta.url)),
  "fixtures",
  `k8s-${K8S_SCHEMA_VERSION}.schema.json`,
);

interface Bundle {
  "x-kubernetes-version": string;
  "x-kinds": Record<string, string>;
  definitions: Record<string, unknown>;
}

/** Kubernetes' OpenAPI extensions: annotations, except list-map keys, which the apiserver enforces. */
const ANNOTATION_KEYWORDS = [
  "x-kubernetes-group-version-kind",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-patch-merge-key",
  "x-kubernetes-patch-strategy",
  "x-kubernetes-unions",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-validations",
];

function makeAjv(bundle: Bundle): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats(ajv, ["date-time"]);
  ajv.addFormat("int32", {
    type: "number",
    validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat("double", { type: "number", validate: () => true });
  ajv.addFormat("byte", /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  // IntOrString's schema is a oneOf of integer and string; the format only names it.
  ajv.addFormat("int-or-string", { validate: () => true });
  for (const keyword of ANNOTATION_KEYWORDS) ajv.addKeyword({ keyword });
  // A list of type map: no two items may share the values of the key fields (as the apiserver checks).
  ajv.addKeyword({
    keyword: "x-kubernetes-list-map-keys",
    type: "array",
    schemaType: "array",
    validate: function uniqueKeys(keys: string[], data: unknown[]) {
      const seen = new Set<string>();
      for (const item of data) {
        const id = JSON.stringify(keys.map((k) => (item as Record<string, unknown>)?.[k] ?? null));
        if (seen.has(id)) {
          (uniqueKeys as unknown as { errors: Partial<ErrorObject>[] }).errors = [
            {
              keyword: "x-kubernetes-list-map-keys",
              message: `duplicate item for keys ${keys.join(",")}: ${id}`,
            },
          ];
          return false;
        }
        seen.add(id);
      }
      return true;
    },
    errors: true,
  });
  ajv.addSchema({ $id: "k8s", definitions: bundle.definitions });
  return ajv;
}

let cached: { bundle: Bundle; ajv: Ajv; validators: Map<string, ValidateFunction> } | undefined;

function state() {
  if (!cached) {
    const bundle = JSON.parse(readFileSync(bundleFile, "utf8")) as Bundle;
    cached = { bundle, ajv: makeAjv(bundle), validators: new Map() };
  }
  return cached;
}

/** The `apiVersion kind` pairs the bundle has schemas for. */
export function schemaKinds(): string[] {
  return Object.keys(state().bundle["x-kinds"]);
}

/** Every schema violation of one object, as `path: message` lines; [] when valid. */
export function schemaErrors(object: unknown): string[] {
  const { bundle, ajv, validators } = state();
  const o = object as { apiVersion?: unknown; kind?: unknown };
  const key = `${String(o?.apiVersion)} ${String(o?.kind)}`;
  const name = bundle["x-kinds"][key];
  if (!name) return [`no Kubernetes ${bundle["x-kubernetes-version"]} schema for '${key}'`];
  let validate = validators.get(name);
  if (!validate) {
    validate = ajv.getSchema(`k8s#/definitions/${name}`);
    if (!validate) throw new Error(`schema ${name} not compiled`);
    validators.set(name, validate);
  }
  if (validate(object)) return [];
  return (validate.errors ?? []).map((e) => {
    const extra =
      e.keyword === "additionalProperties"
        ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'`
        : "";
    return `${e.instancePath || "/"}: ${e.message}${extra}`;
  });
}
