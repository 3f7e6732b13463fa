// The serving-CSR review against certificate requests made by the real openssl CLI (ECDSA P-256 as
// the kubelet makes them, and RSA), good and subtly bad.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CertificateSigningRequest } from "kubernetes-types/certificates/v1";
import { afterAll, describe, expect, it } from "vitest";
import {
  base64,
  parseCertificateRequest,
  reviewKubeletServingCsr,
  reviewKubeletServingCsrFromCluster,
} from "../src/index";
import { defaultCluster } from "./_support";

const tmp = mkdtempSync(join(tmpdir(), "khw-csr-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** A PEM CSR from openssl. */
function opensslCsr(subject: string, san: string | undefined, key: "ec" | "rsa" = "ec"): string {
  const out = join(tmp, `${++n}.csr`);
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-nodes",
      ...(key === "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", "rsa:2048"]),
      "-keyout",
      join(tmp, `${n}.key`),
      "-subj",
      subject,
      ...(san ? ["-addext", `subjectAltName=${san}`] : []),
      "-out",
      out,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return readFileSync(out, "utf8");
}

function csrObject(
  pem: string,
  over: Partial<CertificateSigningRequest["spec"]> = {},
): CertificateSigningRequest {
  return {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { name: "csr-x" },
    spec: {
      request: base64(pem),
      signerName: "kubernetes.io/kubelet-serving",
      usages: ["digital signature", "server auth"],
      username: "system:node:worker-2",
      groups: ["system:nodes", "system:authenticated"],
      ...over,
    },
  };
}

const W2 = "/O=system:nodes/CN=system:node:worker-2";
const cluster = defaultCluster();

describe("parseCertificateRequest", () => {
  it("reads subject, key algorithm and SANs of an ECDSA and an RSA request", () => {
    for (const key of ["ec", "rsa"] as const) {
      const info = parseCertificateRequest(opensslCsr(W2, "DNS:worker-2,IP:192.168.56.22,IP:10.0.2.15", key));
      expect(info).toEqual({
        subject: { CN: ["system:node:worker-2"], O: ["system:nodes"], other: [] },
        keyAlgorithm: key === "ec" ? "ecdsa" : "rsa",
        dnsNames: ["worker-2"],
        ipAddresses: ["192.168.56.22", "10.0.2.15"],
        emailAddresses: [],
        uris: [],
      });
    }
  });

  it("refuses what is not a certificate request", () => {
    expect(() => parseCertificateRequest("hello")).toThrow(/no PEM CERTIFICATE REQUEST/);
    expect(() =>
      parseCertificateRequest(
        "-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n-----END CERTIFICATE REQUEST-----",
      ),
    ).toThrow(/not a readable certificate request/);
  });
});

describe("reviewKubeletServingCsr", () => {
  it("approves worker-2's own serving request (ECDSA and RSA, with or without key encipherment)", () => {
    const good = reviewKubeletServingCsrFromCluster(
      csrObject(opensslCsr(W2, "DNS:worker-2,IP:192.168.56.22")),
      cluster,
    );
    expect(good).toEqual({ verdict: "approve", node: "worker-2", reasons: [] });
    const rsa = csrObject(opensslCsr(W2, "IP:192.168.56.22", "rsa"), {
      usages: ["digital signature", "key encipherment", "server auth"],
    });
    expect(reviewKubeletServingCsrFromCluster(rsa, cluster).verdict).toBe("approve");
  });

  it("rejects the VirtualBox NAT address in the SANs (a kubelet without --node-ip)", () => {
    const r = reviewKubeletServingCsrFromCluster(
      csrObject(opensslCsr(W2, "DNS:worker-2,IP:192.168.56.22,IP:10.0.2.15")),
      cluster,
    );
    expect(r.verdict).toBe("reject");
    expect(r.reasons).toEqual(["IP addresses not of worker-2 (192.168.56.22): 10.0.2.15"]);
  });

  it("rejects another node's name or address, and names nobody asked for", () => {
    const r = reviewKubeletServingCsrFromCluster(
      csrObject(opensslCsr(W2, "DNS:worker-1,DNS:worker-2,IP:192.168.56.21,email:a@b.c")),
      cluster,
    );
    expect(r.reasons).toEqual([
      "DNS names not of worker-2: worker-1",
      "IP addresses not of worker-2 (192.168.56.22): 192.168.56.21",
      "e-mail or URI names are not allowed: a@b.c",
    ]);
  });

  it("rejects a request for someone else, from outside the nodes group, or for client auth", () => {
    const pem = opensslCsr(W2, "DNS:worker-2");
    expect(
      reviewKubeletServingCsrFromCluster(csrObject(pem, { username: "system:node:worker-1" }), cluster)
        .reasons,
    ).toEqual([
      "subject CN is system:node:worker-2, not the requestor system:node:worker-1",
      "DNS names not of worker-1: worker-2",
    ]);
    expect(
      reviewKubeletServingCsrFromCluster(csrObject(pem, { username: "admin" }), cluster).reasons[0],
    ).toBe("requested by 'admin', not by a node (system:node:<name>)");
    expect(
      reviewKubeletServingCsrFromCluster(csrObject(pem, { username: "system:node:intruder" }), cluster)
        .reasons[0],
    ).toBe("requested by system:node:intruder, but intruder is not a node of this cluster");
    expect(
      reviewKubeletServingCsrFromCluster(csrObject(pem, { groups: ["system:authenticated"] }), cluster)
        .reasons,
    ).toEqual(["requestor is not in group system:nodes"]);
    expect(
      reviewKubeletServingCsrFromCluster(
        csrObject(pem, { usages: ["digital signature", "client auth"] }),
        cluster,
      ).reasons,
    ).toEqual(["usages not allowed for a serving certificate: client auth", "usages lack server auth"]);
  });

  it("rejects a wrong organization and a request without SANs", () => {
    const r = reviewKubeletServingCsrFromCluster(
      csrObject(opensslCsr("/O=system:masters/CN=system:node:worker-2", undefined)),
      cluster,
    );
    expect(r.reasons).toEqual([
      "subject O is system:masters, not system:nodes",
      "requests no DNS name or IP address",
    ]);
  });

  it("skips other signers and decided requests", () => {
    const pem = opensslCsr(W2, "DNS:worker-2");
    expect(
      reviewKubeletServingCsr(
        csrObject(pem, { signerName: "kubernetes.io/kube-apiserver-client-kubelet" }),
        [],
      ).verdict,
    ).toBe("skip");
    const approved = {
      ...csrObject(pem),
      status: { conditions: [{ type: "Approved", status: "True" }] },
    } as CertificateSigningRequest;
    expect(reviewKubeletServingCsrFromCluster(approved, cluster)).toEqual({
      verdict: "skip",
      reasons: ["already approved"],
    });
  });
});
