// The guide's manual commands, run for real and compared with what khw generates for the same spec:
// the certificate chapter's OpenSSL commands (real openssl) against `khw gen`'s PKI, field by field;
// the kubeconfig chapters' `kubectl config` commands (real kubectl) against `khw gen`'s kubeconfigs,
// compared semantically (`kubectl config view --raw -o json` of both).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ADMIN_HOST } from "@khw/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGuide, en, guideContext, kubeconfigEntries } from "../src/guide";
import { ADMIN_MACHINE_KUBECONFIG, LOCAL } from "../src/guide/derive";
import type { Block, Guide } from "../src/guide/model";
import { loadSpecFile } from "../src/spec-file";
import { resetSeamsForTests } from "../src/workdir";
import { UNUSUAL_SPEC, useFixedSeams } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";

/** kubectl: the bundle's (what the lab installs), else the one on PATH. Under CI a missing one fails. */
function kubectlPath(): string | undefined {
  const version = "v1.34.4";
  const cache = process.env["XDG_CACHE_HOME"] || join(process.env["HOME"] || homedir(), ".cache");
  const candidates = [
    ...(process.env["KHW_KUBE_BIN_DIR"] ? [join(process.env["KHW_KUBE_BIN_DIR"], "kubectl")] : []),
    join(
      cache,
      "khw/bundles/k8s-v1.34.4_etcd-v3.6.16-amd64/dl.k8s.io/release",
      version,
      "bin/linux/amd64/kubectl",
    ),
    "/usr/bin/kubectl",
    "/usr/local/bin/kubectl",
  ];
  return candidates.find((p) => existsSync(p) && spawnSync(p, ["version", "--client"]).status === 0);
}

const KUBECTL = kubectlPath();
if (!KUBECTL && process.env["CI"]) {
  throw new Error(
    "kubectl is missing (CI=true): build the bundle (`khw bundle build`) or install kubectl at /usr/bin/kubectl",
  );
}
if (spawnSync("openssl", ["version"]).status !== 0 && process.env["CI"]) {
  throw new Error("openssl is missing (CI=true): install the Debian package openssl");
}

const SPECS: Record<string, string | undefined> = {
  default: undefined,
  unusual: UNUSUAL_SPEC,
  // One control plane, no load balancer, ECDSA keys, a TLS-bootstrapping worker, SSH through a jump host.
  "solo-ecdsa": `apiVersion: khw/v1alpha1
kind: Cluster
name: solo
nodes:
  - name: cp
    role: controlplane
    address: 10.20.0.5
    ssh: { user: ops, port: 2200, jump: { host: bastion.example, user: jump } }
  - name: w-a
    role: worker
    address: 10.20.0.6
    kubelet: { credentials: tls-bootstrap }
  - { name: w-b, role: worker, address: 10.20.0.7 }
pki:
  keyAlgorithm: ecdsa-p256
`,
};

interface Generated {
  dir: string;
  guide: Guide;
  cleanup: () => void;
}

const generated: Record<string, Generated> = {};

beforeAll(async () => {
  for (const [name, spec] of Object.entries(SPECS)) {
    // khw's side with the fixed RSA keys of the golden tests (fast) where they cover the spec; the
    // guide's side always makes its own keys with openssl.
    if (name === "solo-ecdsa") resetSeamsForTests();
    else useFixedSeams();
    const t = tempDir();
    if (spec) writeFileSync(join(t.dir, "cluster.yaml"), spec);
    const r = await khw(t.dir, ["gen"]);
    expect(r.code, r.stderr).toBe(0);
    const cluster = (await loadSpecFile(t.dir, undefined, { allowDefault: true })).cluster;
    generated[name] = { dir: t.dir, guide: buildGuide(cluster, en), cleanup: t.cleanup };
  }
}, 120_000);

afterAll(() => {
  resetSeamsForTests();
  for (const g of Object.values(generated)) g.cleanup();
});

const codeBlocks = (guide: Guide, chapter: string): Extract<Block, { kind: "code" }>[] =>
  guide.chapters
    .find((c) => c.id === chapter)!
    .blocks.filter((b): b is Extract<Block, { kind: "code" }> => b.kind === "code");

function bash(script: string, cwd: string, env: Record<string, string> = {}): string {
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", script], {
    cwd,
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: cwd, ...env },
  });
  if (r.status !== 0)
    throw new Error(`bash failed (${r.status}):\n${script.slice(0, 2000)}\n---\n${r.stderr}`);
  return r.stdout;
}

/** What must match between two certificates, as OpenSSL prints it. */
function certFields(file: string): Record<string, string> {
  const run = (args: string[]) => {
    const r = spawnSync("openssl", ["x509", "-in", file, "-noout", ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl x509 ${args.join(" ")} ${file}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const text = run(["-text"]);
  const line = (re: RegExp) => (text.match(re)?.[0] ?? "").trim();
  const ext = (name: string) => {
    const out = run(["-ext", name]);
    return out.replace(/^No extensions in certificate$/m, "").trim();
  };
  return {
    subject: run(["-subject", "-nameopt", "RFC2253"]),
    issuer: run(["-issuer", "-nameopt", "RFC2253"]),
    basicConstraints: ext("basicConstraints"),
    keyUsage: ext("keyUsage"),
    extendedKeyUsage: ext("extendedKeyUsage"),
    subjectAltName: ext("subjectAltName"),
    publicKeyAlgorithm: line(/Public Key Algorithm: .*/),
    publicKeySize: line(/Public-Key: \(\d+ bit\)/),
    signatureAlgorithm: line(/Signature Algorithm: .*/),
  };
}

describe("the certificate chapter's openssl commands", () => {
  for (const name of Object.keys(SPECS)) {
    it(`${name}: make certificates equal to khw's, field by field, that verify against their CA`, async () => {
      const g = generated[name]!;
      const manual = join(g.dir, "by-hand");
      mkdirSync(manual);
      // Every block before the first per-host block (those have captions): mkdir pki, one per certificate, inspect.
      const blocks = codeBlocks(g.guide, "certificate-authority");
      const local = blocks.slice(
        0,
        blocks.findIndex((b) => b.caption),
      );
      bash(local.map((b) => b.text).join("\n"), manual);
      const catalogue = guideContext(
        (await loadSpecFile(g.dir, undefined, { allowDefault: true })).cluster,
      ).catalogue;
      expect(catalogue.length).toBeGreaterThan(8);
      for (const cert of catalogue) {
        const mine = certFields(join(manual, LOCAL.pki, `${cert.id}.crt`));
        const khws = certFields(join(g.dir, LOCAL.pki, `${cert.id}.crt`));
        expect({ id: cert.id, ...mine }).toEqual({ id: cert.id, ...khws });
        expect(mine.subject).toContain(`CN=${cert.subject.CN}`);
        const verify = spawnSync(
          "openssl",
          ["verify", "-CAfile", join(manual, LOCAL.pki, "ca.crt"), join(manual, LOCAL.pki, `${cert.id}.crt`)],
          { encoding: "utf8" },
        );
        expect(verify.stdout + verify.stderr).toMatch(/: OK/);
        const mode = spawnSync("stat", ["-c", "%a", join(manual, LOCAL.pki, `${cert.id}.key`)], {
          encoding: "utf8",
        });
        expect(mode.stdout.trim()).toBe("600");
      }
      // The apiserver's SANs are the spec's, not a constant: the unusual spec's extras are there.
      if (name === "unusual") {
        expect(certFields(join(manual, LOCAL.pki, "kube-apiserver.crt")).subjectAltName).toContain(
          "api.lab-east.example",
        );
      }
    }, 60_000);
  }
});

describe.skipIf(!KUBECTL)("the kubeconfig chapters' kubectl config commands", () => {
  const view = (file: string, cwd: string) => {
    const r = spawnSync(KUBECTL!, ["config", "view", "--raw", "-o", "json", "--kubeconfig", file], {
      cwd,
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin", HOME: cwd },
    });
    if (r.status !== 0) throw new Error(`kubectl config view ${file}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  };

  for (const name of Object.keys(SPECS)) {
    it(`${name}: write kubeconfigs semantically equal to khw's (every file, every host)`, async () => {
      const g = generated[name]!;
      const bin = join(g.dir, "bin");
      mkdirSync(bin);
      symlinkSync(KUBECTL!, join(bin, "kubectl"));
      const [tokenId = "", tokenSecret = ""] = existsSync(join(g.dir, "pki/bootstrap-token"))
        ? readFileSync(join(g.dir, "pki/bootstrap-token"), "utf8").trim().split(".")
        : [];
      const blocks = [
        ...codeBlocks(g.guide, "kubeconfigs"),
        ...codeBlocks(g.guide, "admin-kubeconfig"),
      ].filter((b) => !b.caption && /kubectl config|mkdir/.test(b.text));
      bash(blocks.map((b) => b.text).join("\n"), g.dir, {
        PATH: `${bin}:/usr/bin:/bin`,
        TOKEN_ID: tokenId,
        TOKEN_SECRET: tokenSecret,
      });
      const cluster = (await loadSpecFile(g.dir, undefined, { allowDefault: true })).cluster;
      let compared = 0;
      for (const e of kubeconfigEntries(cluster)) {
        const mine =
          e.def.audience === "admin" ? ADMIN_MACHINE_KUBECONFIG.file : `${LOCAL.kubeconfigs}/${e.file}`;
        for (const node of e.nodes) {
          const khws = join("out", node?.name ?? ADMIN_HOST, e.def.path);
          expect({ file: khws, ...(view(mine, g.dir) as object) }).toEqual({
            file: khws,
            ...(view(khws, g.dir) as object),
          });
          compared++;
        }
      }
      expect(compared).toBeGreaterThanOrEqual(
        cluster.controlPlanes.length * 3 + cluster.workers.length * 2 + 1,
      );
    }, 60_000);
  }
});
