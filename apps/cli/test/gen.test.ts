import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { resetSeamsForTests } from "../src/workdir";
import { GOLDEN_DIR, UNUSUAL_SPEC, useFixedSeams } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";

function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** path → sha256 + mode of every file under dir. */
function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of listTree(dir)) {
    const p = join(dir, rel);
    out[rel] =
      `${createHash("sha256").update(readFileSync(p)).digest("hex")} ${(statSync(p).mode & 0o777).toString(8)}`;
  }
  return out;
}

/** Compares `dir` with the golden tree `name` (UPDATE_GOLDEN=1 rewrites it). */
function expectGoldenTree(dir: string, name: string): void {
  const golden = join(GOLDEN_DIR, name);
  if (process.env["UPDATE_GOLDEN"]) {
    rmSync(golden, { recursive: true, force: true });
    for (const rel of listTree(dir)) {
      mkdirSync(join(golden, rel, ".."), { recursive: true });
      writeFileSync(join(golden, rel), readFileSync(join(dir, rel)));
    }
  }
  expect(listTree(dir)).toEqual(listTree(golden));
  for (const rel of listTree(golden)) {
    expect(readFileSync(join(dir, rel), "utf8"), rel).toBe(readFileSync(join(golden, rel), "utf8"));
  }
}

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  useFixedSeams();
});
afterEach(() => {
  resetSeamsForTests();
  cleanup();
});

describe("khw gen: golden trees", () => {
  it("default spec (no cluster.yaml): says so, renders every host's tree", async () => {
    const r = await khw(dir, ["gen"]);
    expect(r.stderr).toContain("using the built-in default spec");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/master-1 +\d+ files/);
    expectGoldenTree(join(dir, "out"), "default");
  });
  it("unusual spec: 3 masters, 1 worker, custom CIDRs, domain and SANs", async () => {
    writeFileSync(join(dir, "cluster.yaml"), UNUSUAL_SPEC);
    const r = await khw(dir, ["gen", "-o", "tree"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("built-in default");
    expectGoldenTree(join(dir, "tree"), "unusual");
  });
});

describe("khw gen: the working directory", () => {
  it("a second gen with an unchanged spec changes no byte", async () => {
    writeFileSync(join(dir, "cluster.yaml"), UNUSUAL_SPEC);
    expect((await khw(dir, ["gen"])).code).toBe(0);
    const before = hashTree(dir);
    useFixedSeams("another-seed"); // fresh randomness must not matter: nothing is re-issued
    const r = await khw(dir, ["gen"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("up to date");
    expect(r.stdout).toMatch(/0 written, \d+ unchanged/);
    expect(hashTree(dir)).toEqual(before);
  });

  it("--pki-only writes the same pki/ as gen and nothing else; a gen after it issues nothing", async () => {
    writeFileSync(join(dir, "cluster.yaml"), UNUSUAL_SPEC);
    const r = await khw(dir, ["gen", "--pki-only"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pki: issued \d+ certificate/);
    expect(existsSync(join(dir, "out"))).toBe(false);
    const pki = hashTree(join(dir, "pki"));
    expect(Object.keys(pki)).toContain("ca.key");
    expect(pki["ca.key"]).toMatch(/ 600$/);
    const full = await khw(dir, ["gen"]);
    expect(full.code).toBe(0);
    expect(full.stdout).toContain("up to date");
    expect(hashTree(join(dir, "pki"))).toEqual(pki);
    expect(listTree(join(dir, "out")).length).toBeGreaterThan(50);
  });

  it("keys are 0600 in pki/ and in the tree; the CA key never reaches a worker or the LB", async () => {
    expect((await khw(dir, ["gen"])).code).toBe(0);
    for (const rel of listTree(join(dir, "pki"))) {
      const mode = statSync(join(dir, "pki", rel)).mode & 0o777;
      expect(mode, rel).toBe(rel.endsWith(".crt") || rel.endsWith(".expires") ? 0o644 : 0o600);
    }
    for (const rel of listTree(join(dir, "out"))) {
      if (
        rel.endsWith(".key") ||
        rel.endsWith("admin.kubeconfig") ||
        rel.endsWith("encryption-config.yaml")
      ) {
        expect(statSync(join(dir, "out", rel)).mode & 0o777, rel).toBe(0o600);
      }
    }
    expect(existsSync(join(dir, "out/master-1/var/lib/kubernetes/pki/ca.key"))).toBe(true);
    for (const h of ["worker-1", "worker-2", "loadbalancer"]) {
      expect(listTree(join(dir, "out", h)).filter((p) => p.endsWith("ca.key"))).toEqual([]);
    }
  });

  it("a changed spec re-issues only the affected certificates and says why; stale files are removed", async () => {
    writeFileSync(join(dir, "cluster.yaml"), UNUSUAL_SPEC);
    expect((await khw(dir, ["gen"])).code).toBe(0);
    const pkiBefore = hashTree(join(dir, "pki"));
    // one more SAN: only the apiserver certificate changes
    writeFileSync(
      join(dir, "cluster.yaml"),
      UNUSUAL_SPEC.replace("203.0.113.10]", "203.0.113.10, 203.0.113.11]"),
    );
    const r = await khw(dir, ["gen"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/re-issued kube-apiserver: SANs differ: missing 203\.0\.113\.11/);
    expect(r.stdout).not.toMatch(/re-issued (?!kube-apiserver)/);
    const pkiAfter = hashTree(join(dir, "pki"));
    const changed = Object.keys(pkiAfter).filter((k) => pkiAfter[k] !== pkiBefore[k]);
    expect(changed).toEqual(["kube-apiserver.crt"]);
    // a worker leaves: its files go, and gen says so
    writeFileSync(
      join(dir, "cluster.yaml"),
      UNUSUAL_SPEC.replace("  - { name: node-1, role: worker, address: 10.10.0.21 }\n", ""),
    );
    const r2 = await khw(dir, ["gen"]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain("removed out/node-1/var/lib/kubernetes/pki/node-1.key");
    expect(existsSync(join(dir, "out/node-1"))).toBe(false);
  });
});

describe("khw gen: more spec changes and the output directory", () => {
  it("a new worker gets only its own new certificate; files gen did not write are never touched", async () => {
    writeFileSync(join(dir, "cluster.yaml"), UNUSUAL_SPEC);
    expect((await khw(dir, ["gen"])).code).toBe(0);
    writeFileSync(join(dir, "out/README.txt"), "mine\n");
    const pkiBefore = hashTree(join(dir, "pki"));
    writeFileSync(
      join(dir, "cluster.yaml"),
      UNUSUAL_SPEC.replace(
        "  - { name: extra-lb,",
        "  - { name: worker-2, role: worker, address: 10.10.0.22 }\n  - { name: extra-lb,",
      ),
    );
    const r = await khw(dir, ["gen"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("pki: issued 1 certificate(s) into pki/: worker-2");
    expect(r.stdout).not.toContain("re-issued");
    const pkiAfter = hashTree(join(dir, "pki"));
    expect(Object.keys(pkiAfter).filter((k) => pkiAfter[k] !== pkiBefore[k])).toEqual([
      "worker-2.crt",
      "worker-2.key",
    ]);
    expect(existsSync(join(dir, "out/worker-2/var/lib/kubelet/kubelet-config.yaml"))).toBe(true);
    expect(readFileSync(join(dir, "out/README.txt"), "utf8")).toBe("mine\n");
  });

  it("-o naming a file is a clear error", async () => {
    writeFileSync(join(dir, "afile"), "x");
    const r = await khw(dir, ["gen", "-o", "afile"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("afile exists and is not a directory");
  });

  it("an invalid spec exits 3 before anything is written", async () => {
    writeFileSync(join(dir, "cluster.yaml"), UNUSUAL_SPEC.replace("172.20.0.0/16", "172.20.0.0/33"));
    const r = await khw(dir, ["gen"]);
    expect(r.code).toBe(3);
    expect(existsSync(join(dir, "pki"))).toBe(false);
    expect(existsSync(join(dir, "out"))).toBe(false);
  });
});

describe("khw gen: checked by real tools", () => {
  let work: { dir: string; cleanup: () => void };
  beforeAll(async () => {
    work = tempDir();
    writeFileSync(join(work.dir, "cluster.yaml"), UNUSUAL_SPEC);
    useFixedSeams();
    expect((await khw(work.dir, ["gen"])).code).toBe(0);
  });
  afterAll(() => work.cleanup());
  const out = (p: string) => join(work.dir, "out", p);

  it("openssl verifies every certificate on a control plane against the CA, with the spec's SANs", () => {
    const pki = out("cp-2/var/lib/kubernetes/pki");
    for (const name of readdirSync(pki).filter((n) => n.endsWith(".crt") && n !== "ca.crt")) {
      const v = spawnSync("openssl", ["verify", "-CAfile", join(pki, "ca.crt"), join(pki, name)], {
        encoding: "utf8",
      });
      expect(v.stdout, name).toContain(": OK");
    }
    const text = spawnSync("openssl", ["x509", "-noout", "-text", "-in", join(pki, "kube-apiserver.crt")], {
      encoding: "utf8",
    }).stdout;
    for (const san of [
      "DNS:kubernetes.default.svc.k8s.internal",
      "DNS:api.lab-east.example",
      "IP Address:10.32.0.1",
      "IP Address:10.10.0.13",
      "IP Address:10.10.0.30",
      "IP Address:203.0.113.10",
    ]) {
      expect(text).toContain(san);
    }
  });

  it("kubectl reads the admin's own kubeconfig and its TLS material", () => {
    const r = spawnSync(
      "kubectl",
      ["--kubeconfig", out("admin/admin.kubeconfig"), "config", "view", "--raw", "-o", "json"],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    const cfg = JSON.parse(r.stdout);
    expect(cfg["current-context"]).toBe("lab-east");
    expect(cfg.clusters[0].cluster.server).toBe("https://10.10.0.30:6443");
  });
});
