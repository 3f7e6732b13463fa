/**
 * Kubelet serving CSRs on real hosts: `khw up` approves a kubelet's own serving CSR, and leaves
 * pending (saying why) a CSR made with a tls-bootstrap node's own identity (its kubelet's client
 * certificate) that asks for a name that is not the node's (`kubernetes.default`), while approving a
 * valid one from the same identity. A check of the requestor's name alone approves both.
 *
 * Runs alone: pnpm --filter @khw/e2e exec vitest run test/serving-csr.e2e.test.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBundle } from "@khw/bundle";
import { acquireLabLock, findLeftovers, labDown } from "@khw/lab";
import { parseClusterYaml } from "@khw/spec";
import { labUnavailableReason } from "@khw/test-kit/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeKubeconfig, submitServingCsr } from "./_csr";
import { khw, local, onHost, type Run, until } from "./_support";

const unavailable = labUnavailableReason();
if (unavailable && process.env["CI"]) throw new Error(`the serving-CSR e2e cannot run in CI: ${unavailable}`);
if (unavailable) console.warn(`SKIPPED the serving-CSR e2e: ${unavailable}`);

const workdir = mkdtempSync(join(tmpdir(), "khw-e2e-csr-"));
const timings: Record<string, number> = {};
let release: (() => void) | undefined;
let labIsUp = false;
let up: Run;
let apiUrl: string;
let worker: { name: string; address: string };
let tlsBootstrapWorkers: string[];

// biome-ignore lint/suspicious/noExplicitAny: API objects as kubectl -o json prints them
type Csr = any;
const adminKubectl = (...args: string[]) =>
  local("kubectl", ["--kubeconfig", join(workdir, "admin.kubeconfig"), ...args]);
const getCsr = async (name: string): Promise<Csr> => {
  const r = await adminKubectl("get", "csr", name, "-o", "json");
  if (r.code !== 0) throw new Error(`kubectl get csr ${name}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};
const conditions = (csr: Csr): string[] =>
  (csr.status?.conditions ?? []).map((c: { type: string }) => c.type);

describe.skipIf(unavailable !== undefined)("kubelet serving CSRs on a lab of real hosts", () => {
  beforeAll(async () => {
    let t0 = performance.now();
    release = await acquireLabLock({
      purpose: "e2e serving-csr",
      waitForNetwork: true,
      timeoutSeconds: 1200,
    });
    timings["lab lock wait"] = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const bundle = await buildBundle({ kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" });
    timings[`bundle (cached: ${bundle.cached})`] = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const lab = await khw(workdir, ["lab", "up", "--mirror-dir", bundle.dir]);
    expect(lab.code, lab.stderr).toBe(0);
    labIsUp = true;
    timings["khw lab up"] = (performance.now() - t0) / 1000;
    const { cluster } = parseClusterYaml(readFileSync(join(workdir, "cluster.yaml"), "utf8"));
    apiUrl = cluster.api.url;
    const bootstrapped = cluster.workers.filter((w) => w.kubeletCredentials === "tls-bootstrap");
    if (bootstrapped.length === 0) throw new Error("the lab's spec has no tls-bootstrap worker");
    // The forger is a tls-bootstrap worker: the one whose CSRs a check by name alone would approve.
    worker = { name: bootstrapped[0]!.name, address: bootstrapped[0]!.address };
    tlsBootstrapWorkers = bootstrapped.map((w) => w.name);
    up = await khw(workdir, ["up"]);
    timings["khw up (first)"] = up.seconds;
  }, 25 * 60_000);

  afterAll(async () => {
    try {
      if (labIsUp) {
        const down = await labDown({ workdir });
        timings["khw lab down"] = down.seconds;
        expect(await findLeftovers(down.labName)).toEqual([]);
      }
    } finally {
      release?.();
      rmSync(workdir, { recursive: true, force: true });
      console.log(`serving-csr e2e timings (s): ${JSON.stringify(timings)}`);
    }
  }, 5 * 60_000);

  it("khw up approved each tls-bootstrap kubelet's own serving CSR", async () => {
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
    expect(tlsBootstrapWorkers.length).toBeGreaterThan(0);
    const items = JSON.parse((await adminKubectl("get", "csr", "-o", "json")).stdout).items as Csr[];
    for (const w of tlsBootstrapWorkers) {
      const own = items.filter(
        (c) =>
          c.spec.signerName === "kubernetes.io/kubelet-serving" && c.spec.username === `system:node:${w}`,
      );
      expect(
        own.some((c) => conditions(c).includes("Approved") && c.status?.certificate),
        `${w}'s serving CSR approved and issued`,
      ).toBe(true);
    }
  }, 60_000);

  it(
    "a CSR from a node's identity with an extra SAN kubernetes.default stays pending; a valid one is approved",
    async () => {
      const t0 = performance.now();
      // The node's own credentials: the client certificate its kubelet obtained by TLS bootstrapping.
      const pem = await onHost(workdir, worker.name, "cat /var/lib/kubelet/pki/kubelet-client-current.pem");
      const credentials = join(workdir, `${worker.name}-kubelet-client.pem`);
      writeFileSync(credentials, pem.stdout, { mode: 0o600 });
      const kubeconfig = nodeKubeconfig(workdir, worker.name, apiUrl, {
        ca: join(workdir, "pki/ca.crt"),
        cert: credentials,
        key: credentials,
      });
      const own = [`DNS:${worker.name}`, `IP:${worker.address}`];
      await submitServingCsr(workdir, kubeconfig, "khw-e2e-evil", worker.name, [
        ...own,
        "DNS:kubernetes.default",
      ]);
      await submitServingCsr(workdir, kubeconfig, "khw-e2e-good", worker.name, own);
      // The API recorded the node itself as the requestor: only the SAN tells them apart.
      for (const name of ["khw-e2e-evil", "khw-e2e-good"]) {
        const csr = await getCsr(name);
        expect(csr.spec.username).toBe(`system:node:${worker.name}`);
        expect(csr.spec.groups).toContain("system:nodes");
        expect(conditions(csr)).toEqual([]);
      }

      const rbac = await khw(workdir, ["up", "--only", "rbac"]);
      timings["khw up --only rbac"] = rbac.seconds;
      const said = `${rbac.stdout}\n${rbac.stderr}`;
      expect(rbac.code, said).toBe(0);
      expect(said).toMatch(
        new RegExp(
          `kubelet-serving CSR khw-e2e-evil from system:node:${worker.name} left pending, not approved: .*DNS names not of ${worker.name}: kubernetes\\.default`,
        ),
      );
      expect(said).toContain("kubectl certificate deny khw-e2e-evil");
      expect(said).not.toMatch(/khw-e2e-good .*left pending/);

      const good = await until(
        "khw-e2e-good approved and issued",
        async () => {
          const c = await getCsr("khw-e2e-good");
          return conditions(c).includes("Approved") && c.status?.certificate ? c : undefined;
        },
        60,
      );
      expect(conditions(good)).toContain("Approved");
      const evil = await getCsr("khw-e2e-evil");
      expect(conditions(evil)).toEqual([]);
      expect(evil.status?.certificate).toBeUndefined();

      // A second run refuses it again, and says so again: never silently.
      const again = await khw(workdir, ["up", "--only", "rbac"]);
      expect(again.code, again.stderr).toBe(0);
      expect(`${again.stdout}\n${again.stderr}`).toContain("kubelet-serving CSR khw-e2e-evil");
      expect(conditions(await getCsr("khw-e2e-evil"))).toEqual([]);
      timings["forged CSR scenario"] = (performance.now() - t0) / 1000;
    },
    5 * 60_000,
  );
});
