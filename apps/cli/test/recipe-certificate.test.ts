// CONTRIBUTING.md's recipe "add a certificate", proved: one entry added to the certificate catalogue and
// the flag that uses it (in a fixture copy of the catalogues) flow everywhere with no other edit — issued by
// @khw/pki under the cluster CA, placed at the layout's path on the hosts the entry names, uploaded in the
// pki phase, named in the unit, and a change to it restarts the service whose flag names it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyPkiPlan,
  type CertificateSpec,
  catalogueFromCluster,
  catalogueIssues,
  inspectCertificate,
  reconcilePki,
} from "@khw/pki";
import { certPath, keyPath } from "@khw/spec";
import { FILE_CATALOGUE, type FileContext, type FileDefinition, renderUnit } from "@khw/systemd-units";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Artifacts, renderArtifacts } from "../src/artifacts";
import { loadSpecFile } from "../src/spec-file";
import { readWorkdir, resetSeamsForTests } from "../src/workdir";
import { FIXED_NOW, useFixedSeams } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";
import { knownAs, namedPaths } from "./layout-paths";

const ID = "front-proxy-client";

let baseline: Artifacts;
let withCert: Artifacts;

beforeAll(async () => {
  const work = tempDir();
  try {
    useFixedSeams();
    expect((await khw(work.dir, ["init"])).code).toBe(0);
    expect((await khw(work.dir, ["gen"])).code).toBe(0);
    const { cluster } = await loadSpecFile(work.dir, undefined, { allowDefault: true });
    const secrets = readWorkdir(work.dir, cluster);
    baseline = renderArtifacts(cluster, secrets);

    // 1. The catalogue entry (what catalogueFromCluster would list): a client certificate for the
    //    apiserver's aggregation layer, on every control plane at the layout's path.
    const base = catalogueFromCluster(cluster);
    const entry: CertificateSpec = {
      // a client certificate like the scheduler's (signer ca, clientAuth, the spec's key algorithm and validity)
      ...base.find((c) => c.id === "kube-scheduler")!,
      id: ID,
      description: "kube-apiserver's client certificate towards aggregated API servers",
      subject: { CN: "front-proxy-client" },
      destinations: [{ hosts: [{ role: "controlplane" }], certPath: certPath(ID), keyPath: keyPath(ID) }],
    };
    const certificates = [...base, entry];
    // 2. The flag that uses it, in the kube-apiserver unit.
    const apiserver = FILE_CATALOGUE.find((d) => d.id === "kube-apiserver.service")!;
    const unit = (ctx: FileContext) => {
      const u = apiserver.unit!(ctx);
      return {
        ...u,
        service: {
          ...u.service,
          execStart: [
            ...u.service.execStart,
            `--proxy-client-cert-file=${certPath(ID)}`,
            `--proxy-client-key-file=${keyPath(ID)}`,
          ],
        },
      };
    };
    const files: FileDefinition[] = FILE_CATALOGUE.map((d) =>
      d === apiserver ? { ...d, unit, render: (ctx: FileContext) => renderUnit(unit(ctx)) } : d,
    );

    // `khw gen` issues what the catalogue lists and keeps the rest (the same reconcile/apply it runs).
    const plan = reconcilePki({ catalogue: certificates, existing: secrets.material, now: FIXED_NOW });
    const { material, changed } = await applyPkiPlan({
      plan,
      catalogue: certificates,
      existing: secrets.material,
      now: FIXED_NOW,
    });
    expect(changed).toEqual([ID]);
    withCert = renderArtifacts(cluster, { ...secrets, material }, { catalogues: { certificates, files } });
    expect(catalogueIssues(certificates)).toEqual([]);
  } finally {
    work.cleanup();
  }
}, 120_000);

afterAll(() => resetSeamsForTests());

describe("recipe: add a certificate", () => {
  it("is issued by the cluster CA (openssl verify) with the entry's subject and usage", () => {
    const cert = withCert.files.find((f) => f.host === "master-1" && f.path === certPath(ID))!;
    const ca = withCert.files.find((f) => f.host === "master-1" && f.path === certPath("ca"))!;
    const info = inspectCertificate(cert.contents);
    expect(info.subject.CN).toBe("front-proxy-client");
    expect(info.extKeyUsage).toEqual(["clientAuth"]);
    const dir = mkdtempSync(join(tmpdir(), "khw-recipe-"));
    try {
      writeFileSync(join(dir, "ca.crt"), ca.contents);
      writeFileSync(join(dir, "leaf.crt"), cert.contents);
      const r = spawnSync("openssl", ["verify", "-CAfile", join(dir, "ca.crt"), join(dir, "leaf.crt")], {
        encoding: "utf8",
      });
      if (r.error) throw new Error(`openssl is needed for this test: ${r.error.message}`);
      expect(r.stdout.trim()).toBe(`${join(dir, "leaf.crt")}: OK`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is placed at the layout's paths on every control plane only, uploaded in the pki phase", () => {
    const placed = withCert.files.filter((f) => f.path === certPath(ID) || f.path === keyPath(ID));
    expect(placed.map((f) => `${f.host}:${f.path}:${f.phase}:${f.mode.toString(8)}`).sort()).toEqual([
      `master-1:${certPath(ID)}:pki:644`,
      `master-1:${keyPath(ID)}:pki:600`,
      `master-2:${certPath(ID)}:pki:644`,
      `master-2:${keyPath(ID)}:pki:600`,
    ]);
    expect(placed.filter((f) => f.path === keyPath(ID)).every((f) => f.secret === true)).toBe(true);
  });

  it("is named in the unit, and a change to it restarts the service whose flag names it", () => {
    const unit = withCert.files.find(
      (f) => f.host === "master-1" && f.path.endsWith("/kube-apiserver.service"),
    )!;
    expect(unit.phase).toBe("control-plane");
    expect(unit.contents).toContain(`--proxy-client-cert-file=${certPath(ID)}`);
    for (const f of withCert.files.filter((x) => x.path === certPath(ID) || x.path === keyPath(ID))) {
      expect(f.services, `${f.host}:${f.path}`).toEqual(["kube-apiserver"]);
    }
    for (const p of namedPaths(unit.contents)) expect(knownAs(withCert, "master-1", p), p).toBeDefined();
  });

  it("changes nothing else: every other file is byte-identical, in the same phase, with the same services", () => {
    const key = (f: { host: string; path: string }) => `${f.host}:${f.path}`;
    const before = new Map(baseline.files.map((f) => [key(f), f]));
    const changed = withCert.files.filter((f) => {
      const b = before.get(key(f));
      return (
        !b || b.contents !== f.contents || b.phase !== f.phase || b.services.join() !== f.services.join()
      );
    });
    expect(changed.map(key).sort()).toEqual([
      "master-1:/etc/systemd/system/kube-apiserver.service",
      `master-1:${certPath(ID)}`,
      `master-1:${keyPath(ID)}`,
      "master-2:/etc/systemd/system/kube-apiserver.service",
      `master-2:${certPath(ID)}`,
      `master-2:${keyPath(ID)}`,
    ]);
    expect(withCert.files.length).toBe(baseline.files.length + 4);
  });
});
