import {
  applyPkiPlan,
  type CertificateSpec,
  catalogueFromCluster,
  certificateMatchesKey,
  type ExistingPki,
  inspectCertificate,
  issueCertificate,
  issuePki,
  type PkiMaterial,
  pkiStateFiles,
  readPkiState,
  reconcilePki,
  verifyChain,
} from "@khw/pki";
import { defaultClusterSpecInput } from "@khw/spec";
import { beforeAll, describe, expect, it } from "vitest";
import { clusterOf, defaultCluster, fixtureKey, NOW, seededRandom, testKeys } from "./helpers";

const DAY = 86_400_000;
const catalogue = catalogueFromCluster(defaultCluster());
let material: PkiMaterial;

beforeAll(async () => {
  material = await issuePki({ catalogue, now: NOW, random: seededRandom(), keys: testKeys() });
});

const clone = (m: PkiMaterial): ExistingPki => JSON.parse(JSON.stringify(m));
const decisionsOf = (plan: ReturnType<typeof reconcilePki>) =>
  Object.fromEntries(
    plan.decisions.map((d) => [
      d.id,
      { action: d.action, codes: d.reasons.map((r) => r.code), newKey: d.newKey },
    ]),
  );
const keepAllBut = (changed: Record<string, unknown>) => ({
  ...Object.fromEntries(catalogue.map((c) => [c.id, { action: "keep", codes: [], newKey: false }])),
  ...changed,
});

describe("reconcilePki", () => {
  it("issues everything when nothing exists", () => {
    const plan = reconcilePki({ catalogue, existing: {}, now: NOW });
    for (const d of plan.decisions)
      expect(d).toMatchObject({ action: "issue", newKey: true, reasons: [{ code: "missing" }] });
    expect(plan.warnings).toEqual([]);
  });

  it("keeps everything that is current, and apply then returns the same text", async () => {
    const later = new Date(NOW.getTime() + 100 * DAY);
    const plan = reconcilePki({ catalogue, existing: clone(material), now: later });
    expect(decisionsOf(plan)).toEqual(keepAllBut({}));
    const applied = await applyPkiPlan({ plan, catalogue, existing: clone(material), now: later });
    expect(applied).toEqual({ material, changed: [] });
  });

  it("missing certificate with its key present: issue, reusing the key", async () => {
    const existing = clone(material);
    delete existing.admin!.cert;
    const plan = reconcilePki({ catalogue, existing, now: NOW });
    expect(decisionsOf(plan)).toEqual(
      keepAllBut({ admin: { action: "issue", codes: ["missing"], newKey: false } }),
    );
    const { material: out, changed } = await applyPkiPlan({
      plan,
      catalogue,
      existing,
      now: NOW,
      random: seededRandom("2"),
    });
    expect(changed).toEqual(["admin"]);
    expect(out.admin!.key).toBe(material.admin!.key);
    expect(certificateMatchesKey(out.admin!.cert, out.admin!.key)).toBe(true);
  });

  it("missing key: re-issue with a new key", async () => {
    const existing = clone(material);
    delete existing["kube-proxy"]!.key;
    const plan = reconcilePki({ catalogue, existing, now: NOW });
    expect(decisionsOf(plan)).toEqual(
      keepAllBut({ "kube-proxy": { action: "reissue", codes: ["key-missing"], newKey: true } }),
    );
    const { material: out } = await applyPkiPlan({
      plan,
      catalogue,
      existing,
      now: NOW,
      keys: testKeys("rsa-2048"),
    });
    expect(certificateMatchesKey(out["kube-proxy"]!.cert, out["kube-proxy"]!.key)).toBe(true);
    expect(verifyChain(out["kube-proxy"]!.cert, out.ca!.cert).ok).toBe(true);
  });

  it("a key that does not belong to the certificate: re-issue with a new key", () => {
    const existing = clone(material);
    existing["kube-scheduler"]!.key = fixtureKey("rsa-other-ca");
    expect(decisionsOf(reconcilePki({ catalogue, existing, now: NOW }))).toEqual(
      keepAllBut({ "kube-scheduler": { action: "reissue", codes: ["key-mismatch"], newKey: true } }),
    );
  });

  it("SANs changed (an extra apiserver SAN, a third master): re-issue those, keep the key, say what changed", () => {
    const input = defaultClusterSpecInput();
    const cluster = clusterOf({
      ...input,
      nodes: [...input.nodes, { name: "master-3", role: "controlplane", address: "192.168.56.13" }],
      pki: { ...input.pki, extraApiserverSANs: ["api.example.com"] },
    });
    const plan = reconcilePki({
      catalogue: catalogueFromCluster(cluster),
      existing: clone(material),
      now: NOW,
    });
    expect(decisionsOf(plan)).toEqual(
      keepAllBut({
        "kube-apiserver": { action: "reissue", codes: ["sans-changed"], newKey: false },
        "etcd-server": { action: "reissue", codes: ["sans-changed"], newKey: false },
      }),
    );
    const msg = plan.decisions.find((d) => d.id === "kube-apiserver")!.reasons[0]!.message;
    expect(msg).toContain("missing api.example.com");
    expect(msg).toContain("missing 192.168.56.13");
  });

  it("subject changed: re-issue", () => {
    const changed = catalogue.map((c) =>
      c.id === "admin" ? { ...c, subject: { CN: "root-admin", O: ["system:masters"] } } : c,
    );
    expect(decisionsOf(reconcilePki({ catalogue: changed, existing: clone(material), now: NOW }))).toEqual(
      keepAllBut({ admin: { action: "reissue", codes: ["subject-changed"], newKey: false } }),
    );
  });

  it("usages changed: re-issue", () => {
    const changed = catalogue.map(
      (c): CertificateSpec =>
        c.id === "kube-proxy"
          ? { ...c, extKeyUsage: ["clientAuth", "serverAuth"], sans: { dns: ["x"], ips: [] } }
          : c,
    );
    expect(
      decisionsOf(reconcilePki({ catalogue: changed, existing: clone(material), now: NOW }))["kube-proxy"],
    ).toEqual({
      action: "reissue",
      codes: ["sans-changed", "usages-changed"],
      newKey: false,
    });
  });

  it("signed by another CA (same CA name, other key): re-issue", () => {
    const otherCa = {
      cert: issueCertificate({ spec: catalogue[0]!, key: fixtureKey("rsa-other-ca"), now: NOW }),
      key: fixtureKey("rsa-other-ca"),
    };
    const existing = clone(material);
    existing.admin!.cert = issueCertificate({
      spec: catalogue[1]!,
      key: material.admin!.key,
      issuer: otherCa,
      now: NOW,
    });
    const plan = reconcilePki({ catalogue, existing, now: NOW });
    expect(decisionsOf(plan)).toEqual(
      keepAllBut({ admin: { action: "reissue", codes: ["signed-by-other-ca"], newKey: false } }),
    );
    expect(plan.decisions[1]!.reasons[0]!.message).toMatch(/not signed by 'ca'/);
  });

  it("key algorithm changed (RSA → ECDSA): leaves get new keys; the CA is kept with a warning", () => {
    const ec = catalogueFromCluster(defaultCluster("ecdsa-p256"));
    const plan = reconcilePki({ catalogue: ec, existing: clone(material), now: NOW });
    for (const d of plan.decisions.slice(1))
      expect(d).toMatchObject({
        action: "reissue",
        newKey: true,
        reasons: [{ code: "key-algorithm-changed" }],
      });
    expect(plan.decisions[0]).toMatchObject({ id: "ca", action: "keep" });
    expect(plan.warnings).toEqual([expect.objectContaining({ id: "ca", code: "ca-key-algorithm-changed" })]);
  });

  it("expires within N days: re-issue; expired: re-issue; the CA only warns", () => {
    const admin = inspectCertificate(material.admin!.cert);
    const soon = new Date(admin.notAfter.getTime() - 10 * DAY);
    expect(
      decisionsOf(reconcilePki({ catalogue, existing: clone(material), now: soon, renewWithinDays: 30 }))
        .admin,
    ).toEqual({
      action: "reissue",
      codes: ["expires-soon"],
      newKey: false,
    });
    expect(
      decisionsOf(reconcilePki({ catalogue, existing: clone(material), now: soon, renewWithinDays: 5 }))
        .admin!.action,
    ).toBe("keep");
    const after = new Date(admin.notAfter.getTime() + DAY);
    expect(
      decisionsOf(reconcilePki({ catalogue, existing: clone(material), now: after })).admin!.codes,
    ).toEqual(["expired"]);
    const caEnd = inspectCertificate(material.ca!.cert).notAfter;
    const late = reconcilePki({ catalogue, existing: clone(material), now: new Date(caEnd.getTime() + DAY) });
    expect(late.decisions[0]!.action).toBe("keep");
    expect(late.warnings.map((w) => w.code)).toEqual(["ca-expired"]);
    expect(late.warnings[0]!.hint).toMatch(/forceCa/);
  });

  it("a CA whose certificate does not match its key is an error", () => {
    const existing = clone(material);
    existing.ca!.key = fixtureKey("rsa-other-ca");
    expect(() => reconcilePki({ catalogue, existing, now: NOW })).toThrow(
      expect.objectContaining({
        code: "CA_KEY_MISMATCH",
        subject: "ca",
        hint: expect.stringMatching(/forceCa/),
      }),
    );
  });

  it("a CA certificate without its key is an error (never silently replaced)", () => {
    const existing = clone(material);
    delete existing.ca!.key;
    expect(() => reconcilePki({ catalogue, existing, now: NOW })).toThrow(
      expect.objectContaining({ code: "CA_KEY_MISSING" }),
    );
  });

  it("forceCa: a new CA key and certificate, and every leaf re-issued under it", async () => {
    const plan = reconcilePki({ catalogue, existing: clone(material), now: NOW, forceCa: true });
    expect(plan.decisions[0]).toMatchObject({
      action: "reissue",
      newKey: true,
      reasons: [{ code: "forced" }],
    });
    for (const d of plan.decisions.slice(1))
      expect(d).toMatchObject({ action: "reissue", newKey: false, reasons: [{ code: "signer-reissued" }] });
    const { material: out, changed } = await applyPkiPlan({
      plan,
      catalogue,
      existing: clone(material),
      now: NOW,
      keys: async () => fixtureKey("rsa-other-ca"),
    });
    expect(changed).toEqual(catalogue.map((c) => c.id));
    expect(out.ca!.cert).not.toBe(material.ca!.cert);
    for (const c of catalogue.slice(1)) {
      expect(verifyChain(out[c.id]!.cert, out.ca!.cert).ok, c.id).toBe(true);
      expect(out[c.id]!.key).toBe(material[c.id]!.key);
    }
  });

  it("a CA brought by the caller signs the leaves", async () => {
    const ca = {
      cert: issueCertificate({
        spec: { ...catalogue[0]!, subject: { CN: "Corp Root" } },
        key: fixtureKey("rsa-other-ca"),
        now: NOW,
      }),
      key: fixtureKey("rsa-other-ca"),
    };
    const out = await issuePki({ catalogue, ca, now: NOW, keys: testKeys() });
    expect(out.ca).toEqual(ca);
    expect(verifyChain(out["kube-apiserver"]!.cert, ca.cert).ok).toBe(true);
    expect(inspectCertificate(out.admin!.cert).issuer.CN).toBe("Corp Root");
  });

  it("round-trips through the pki/ state files", () => {
    const files = pkiStateFiles(material);
    expect(files.filter((f) => f.path.endsWith(".key")).every((f) => f.mode === 0o600 && f.secret)).toBe(
      true,
    );
    const existing = readPkiState(Object.fromEntries(files.map((f) => [f.path, f.contents])));
    expect(existing).toEqual(material);
    expect(decisionsOf(reconcilePki({ catalogue, existing, now: NOW }))).toEqual(keepAllBut({}));
  });
});
