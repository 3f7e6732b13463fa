// The quick path (`@khw/spec/quick`) against the full one (parseClusterYaml, zod): whatever the quick path
// accepts, it returns exactly what parseClusterYaml returns (same data, same key order, same warnings at
// the same positions); whatever parseClusterYaml refuses, the quick path refuses.
import { readFileSync } from "node:fs";
import { BAD_SPECS } from "@khw/test-kit/bad-specs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { quickCheckSource } from "../scripts/quick-check-source";
import {
  clusterJsonSchema,
  defaultClusterSpecInput,
  loadCluster,
  parseClusterYaml,
  SpecError,
} from "../src/index";
import { quickLoadCluster, quickParseClusterYaml } from "../src/quick";

type Outcome = { ok: true; json: string } | { ok: false; error: string };

function full(text: string): Outcome {
  try {
    return { ok: true, json: JSON.stringify(parseClusterYaml(text, { file: "cluster.yaml" })) };
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    return { ok: false, error: e.message };
  }
}

/** The property, for one document; returns whether the spec was valid. */
function agrees(text: string): boolean {
  const expected = full(text);
  const quick = quickParseClusterYaml(text, { file: "cluster.yaml" });
  if (expected.ok) expect(JSON.stringify(quick), "the quick path differs").toBe(expected.json);
  else expect(quick, `the quick path accepted an invalid spec: ${expected.error}`).toBeUndefined();
  let value: unknown;
  try {
    value = parse(text);
  } catch {
    return expected.ok; // not YAML: there is no value to load
  }
  agreesOnValue(value);
  return expected.ok;
}

/** The same property for a spec given as a value: quickLoadCluster against loadCluster. */
function agreesOnValue(value: unknown): void {
  let expected: string | undefined;
  try {
    expected = JSON.stringify(loadCluster(structuredClone(value)));
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
  }
  const quick = quickLoadCluster(structuredClone(value));
  if (expected !== undefined) expect(JSON.stringify(quick), "quickLoadCluster differs").toBe(expected);
  else expect(quick, "quickLoadCluster accepted an invalid spec").toBeUndefined();
}

/** Every optional field set, free-form extraConfig included. */
const everything = {
  apiVersion: "khw/v1alpha1",
  kind: "Cluster",
  name: "full",
  nodes: [
    {
      name: "cp-1",
      role: "controlplane",
      address: "172.20.0.11",
      ssh: {
        host: "cp-1.example",
        port: 2201,
        user: "admin",
        identityFile: "keys/cp",
        jump: { host: "bastion.example", port: 2222, user: "hop", identityFile: "keys/hop" },
      },
    },
    {
      name: "w-1",
      role: "worker",
      address: "172.20.0.21",
      kubelet: {
        credentials: "tls-bootstrap",
        extraConfig: { cgroupsPerQOS: false, evictionHard: { "memory.available": "100Mi" }, list: [1, "a"] },
      },
      containerd: { runcBinary: "/usr/local/bin/runc-wrapper" },
      kubeProxy: { extraConfig: { conntrack: { maxPerCore: 0 } } },
    },
  ],
  network: { dnsServiceIP: "10.96.0.53" },
  pki: { keyAlgorithm: "ecdsa-p256", extraApiserverSANs: ["api.example", "203.0.113.7"] },
  binaries: {
    source: "mirror",
    mirror: "http://198.18.0.1:8080",
    images: [{ ref: "docker.io/library/nginx:1.27", path: "images/nginx.tar" }],
  },
  addons: { podNetwork: "flannel", dns: false, images: { flannelCniPlugin: null } },
  ssh: { hostKeyChecking: "strict", knownHostsFile: "kh" },
};

describe("the quick path", () => {
  it("the checked-in src/_quick-check.generated.js is what the generator writes (run `pnpm --filter @khw/spec gen:schema`)", () => {
    const checkedIn = readFileSync(new URL("../src/_quick-check.generated.js", import.meta.url), "utf8");
    expect(checkedIn).toBe(quickCheckSource(clusterJsonSchema()));
  });

  it("accepts the default spec, a minimal one and one with every field, exactly as parseClusterYaml does", () => {
    const minimal = { nodes: [{ name: "solo", role: "controlplane", address: "10.1.0.5" }] };
    for (const spec of [defaultClusterSpecInput(), minimal, everything]) {
      expect(agrees(stringify(spec))).toBe(true);
      expect(agrees(JSON.stringify(spec))).toBe(true);
    }
  });

  it("agrees with parseClusterYaml on every document of the bad-spec corpus", () => {
    let valid = 0;
    for (const c of BAD_SPECS) if (agrees(c.yaml)) valid++;
    // The corpus's warnings are valid specs: the quick path accepted those, with the warnings placed.
    expect(valid).toBe(BAD_SPECS.filter((c) => c.exit === 0).length);
    expect(valid).toBeGreaterThan(0);
  });

  it("agrees with parseClusterYaml on random edits of a full spec (fields removed, replaced, added)", () => {
    const leafValue = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom("10.0.0.0/8", "192.168.56.11", "v1.34.4", "worker", "flannel", "/bin/x", ""),
      fc.integer({ min: -2, max: 70000 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
    );
    const edit = fc.record({
      at: fc.nat(),
      op: fc.constantFrom("delete", "set", "add"),
      key: fc.string({ maxLength: 8 }),
      value: leafValue,
    });
    let validRuns = 0;
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const spec = structuredClone(everything) as Record<string, unknown>;
        for (const e of edits) applyEdit(spec, e);
        if (agrees(stringify(spec))) validRuns++;
      }),
      { numRuns: 400 },
    );
    // Removed fields with defaults and some replaced values leave the spec valid: both branches ran.
    expect(validRuns).toBeGreaterThan(40);
    expect(validRuns).toBeLessThan(400);
  });
});

/** Every object in a value with the keys it holds: the places an edit can land. */
function places(root: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (v === null || typeof v !== "object") return;
    const entries: [string | number, unknown][] = Array.isArray(v) ? [...v.entries()] : Object.entries(v);
    for (const [key, x] of entries) {
      out.push({ parent: v as Record<string, unknown> | unknown[], key });
      walk(x);
    }
  };
  walk(root);
  return out;
}

function applyEdit(
  spec: Record<string, unknown>,
  e: { at: number; op: string; key: string; value: unknown },
): void {
  const all = places(spec);
  const p = all[e.at % all.length]!;
  const parent = p.parent as Record<string | number, unknown>;
  if (e.op === "delete") {
    if (Array.isArray(p.parent)) p.parent.splice(p.key as number, 1);
    else delete parent[p.key];
  } else if (e.op === "set") parent[p.key] = e.value;
  else if (!Array.isArray(p.parent)) parent[e.key] = e.value;
}
