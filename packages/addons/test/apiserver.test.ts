// The manifests against a real kube-apiserver v1.34.4 (with etcd) on 127.0.0.1: every file is
// accepted by `kubectl apply` (full server-side validation and admission, not just the schema), a
// second apply changes nothing, the stored objects keep the facts that matter, the bootstrap token
// really authenticates as system:bootstrap:<id> with its groups (and an expired one does not), and
// RBAC grants exactly what the fixes claim. Every process is stopped by PID in afterAll.
//
// Needs the bundle `khw bundle build` fills (@khw/bundle's pinnedBinaries: kube-apiserver and kubectl v1.34.4,
// etcd v3.6.16). Skipped locally, with the reason, without it; in CI a missing binary fails the file.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, loadCluster } from "@khw/spec";
import { servingCsrObject, servingCsrPem } from "@khw/test-kit/csr";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import type { CertificateSigningRequest } from "kubernetes-types/certificates/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addonFilesFromCluster,
  bootstrapTokenExpiration,
  bootstrapTokenSecret,
  formatBootstrapToken,
  generateBootstrapToken,
  renderObjectsYaml,
  reviewKubeletServingCsrFromCluster,
} from "../src/index";
import { defaultCluster, freePort, Processes, unusualCluster, waitFor } from "./_support";

const KUBERNETES = "v1.34.4";

// The pinned binaries of the bundle (kubectl v1.34.4, etcd v3.6.16), never a machine's own; in CI a missing one fails.
const pinned = pinnedBinaries();
const apiserverBin = pinned.kubeApiserver;
const kubectlBin = pinned.kubectl;
const skip = prerequisiteSkip(pinned.missing);
const missing = skip ? [skip] : [];

const procs = new Processes();
afterAll(async () => {
  await procs.stopAll(0);
});

interface Api {
  kubectl(args: string[], as?: { token?: string }): { ok: boolean; out: string; err: string };
  dir: string;
}

async function startApiserver(cluster: Cluster): Promise<Api> {
  const dir = mkdtempSync(join(tmpdir(), "khw-apiserver-"));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const keyGen = spawnSync("openssl", ["genrsa", "-out", join(dir, "sa.key"), "2048"]);
  const pubGen = spawnSync("openssl", [
    "rsa",
    "-in",
    join(dir, "sa.key"),
    "-pubout",
    "-out",
    join(dir, "sa.pub"),
  ]);
  if (keyGen.status !== 0 || pubGen.status !== 0)
    throw new Error("openssl could not make the service-account key");
  const adminToken = randomBytes(16).toString("hex");
  writeFileSync(join(dir, "tokens.csv"), `${adminToken},admin,admin,system:masters\n`);
  const etcd = await procs.start(pinned.etcd, [
    "--data-dir",
    join(dir, "etcd"),
    "--listen-client-urls",
    `http://127.0.0.1:${etcdPort}`,
    "--advertise-client-urls",
    `http://127.0.0.1:${etcdPort}`,
    "--listen-peer-urls",
    `http://127.0.0.1:${peerPort}`,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${peerPort}`,
    "--initial-cluster",
    `default=http://127.0.0.1:${peerPort}`,
  ]);
  const server = `https://127.0.0.1:${apiPort}`;
  const apiserver = await procs.start(apiserverBin, [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--secure-port=${apiPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--cert-dir=${join(dir, "certs")}`,
    `--token-auth-file=${join(dir, "tokens.csv")}`,
    // As the generated kube-apiserver unit runs it (REFERENCE.md), minus what needs the PKI:
    "--authorization-mode=Node,RBAC",
    "--enable-bootstrap-token-auth=true",
    "--enable-admission-plugins=NodeRestriction,ServiceAccount",
    "--allow-privileged=true",
    `--service-cluster-ip-range=${cluster.network.serviceCIDR}`,
    `--service-node-port-range=${cluster.network.nodePortRange}`,
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${join(dir, "sa.key")}`,
  ]);
  const kubectl: Api["kubectl"] = (args, as) => {
    const r = spawnSync(
      kubectlBin,
      ["--server", server, "--insecure-skip-tls-verify", "--token", as?.token ?? adminToken, ...args],
      { encoding: "utf8", env: { PATH: process.env["PATH"] ?? "", HOME: dir } },
    );
    return {
      ok: r.status === 0,
      out: r.stdout ?? "",
      err: `${r.stderr ?? ""}${r.error ? String(r.error) : ""}`,
    };
  };
  await waitFor(
    "kube-apiserver to be ready",
    () => {
      const r = kubectl(["get", "--raw", "/readyz"]);
      return {
        done: r.out.trim() === "ok",
        seen: `${r.out}${r.err}\n--- apiserver log ---\n${procs.output(apiserver).slice(-2000)}\n--- etcd log ---\n${procs.output(etcd).slice(-1000)}`,
      };
    },
    90_000,
  );
  // What the controller-manager's service-account controller would have done.
  const sa = kubectl(["create", "serviceaccount", "default", "--namespace", "default"]);
  if (!sa.ok) throw new Error(sa.err);
  return { kubectl, dir };
}

const flannelCluster = (): Cluster => {
  const { spec } = defaultCluster();
  return loadCluster({ ...spec, addons: { ...spec.addons, podNetwork: "flannel" } }).cluster;
};

const cases: [string, () => Cluster][] = [
  ["default", defaultCluster],
  ["unusual", unusualCluster],
  ["flannel", flannelCluster],
];

describe.skipIf(missing.length > 0).each(cases)(
  `the manifests of the %s spec on a real kube-apiserver ${KUBERNETES}${missing.length ? ` — skipped: ${missing.join("; ")}` : ""}`,
  (_label, makeCluster) => {
    const cluster = makeCluster();
    const token = generateBootstrapToken(randomBytes);
    const expiration = bootstrapTokenExpiration(new Date(), 1);
    let api: Api;
    beforeAll(async () => {
      api = await startApiserver(cluster);
    }, 120_000);
    afterAll(() => {
      if (api) rmSync(api.dir, { recursive: true, force: true });
    });

    const files = () => addonFilesFromCluster(cluster, { bootstrapToken: { ...token, expiration } });

    it("accepts every file with kubectl apply, and a second apply changes nothing", () => {
      for (const f of files()) {
        const file = join(api.dir, f.path.split("/").pop()!);
        writeFileSync(file, f.contents);
        const first = api.kubectl(["apply", "-f", file]);
        expect(first.err, f.path).toBe("");
        expect(first.ok, f.path).toBe(true);
        expect(
          first.out
            .trim()
            .split("\n")
            .every((l) => l.endsWith(" created")),
          first.out,
        ).toBe(true);
        const again = api.kubectl(["apply", "-f", file]);
        expect(again.ok).toBe(true);
        expect(
          again.out
            .trim()
            .split("\n")
            .every((l) => l.endsWith(" unchanged")),
          again.out,
        ).toBe(true);
      }
    }, 60_000);

    it("stores the facts that break clusters: DNS IP, cluster domain, IPALLOC_RANGE / flannel Network", () => {
      const ip = api.kubectl([
        "get",
        "service",
        "kube-dns",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.spec.clusterIP}",
      ]);
      expect(ip.out).toBe(cluster.network.dnsServiceIP);
      const corefile = api.kubectl([
        "get",
        "configmap",
        "coredns",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.data.Corefile}",
      ]);
      expect(corefile.out).toContain(`kubernetes ${cluster.network.clusterDomain} in-addr.arpa ip6.arpa {`);
      const range =
        cluster.spec.addons.podNetwork === "flannel"
          ? JSON.parse(
              api.kubectl([
                "get",
                "configmap",
                "kube-flannel-cfg",
                "-n",
                "kube-flannel",
                "-o",
                "jsonpath={.data.net-conf\\.json}",
              ]).out,
            ).Network
          : api.kubectl([
              "get",
              "daemonset",
              "weave-net",
              "-n",
              "kube-system",
              "-o",
              'jsonpath={.spec.template.spec.containers[?(@.name=="weave")].env[?(@.name=="IPALLOC_RANGE")].value}',
            ]).out;
      expect(range).toBe(cluster.network.podCIDR);
    }, 60_000);

    it("authenticates the bootstrap token as system:bootstrap:<id> with its groups, allowed to request node certificates", () => {
      const who = api.kubectl(["auth", "whoami", "-o", "json"], { token: formatBootstrapToken(token) });
      expect(who.err).toBe("");
      const info = (JSON.parse(who.out) as { status: { userInfo: { username: string; groups: string[] } } })
        .status.userInfo;
      expect(info.username).toBe(`system:bootstrap:${token.id}`);
      expect(info.groups).toEqual([
        "system:bootstrappers",
        "system:bootstrappers:worker",
        "system:authenticated",
      ]);
      const asToken = { token: formatBootstrapToken(token) };
      expect(
        api
          .kubectl(["auth", "can-i", "create", "certificatesigningrequests.certificates.k8s.io"], asToken)
          .out.trim(),
      ).toBe("yes");
      expect(
        api
          .kubectl(
            [
              "auth",
              "can-i",
              "create",
              "certificatesigningrequests.certificates.k8s.io",
              "--subresource=nodeclient",
            ],
            asToken,
          )
          .out.trim(),
      ).toBe("yes");
      // …and nothing more.
      expect(api.kubectl(["auth", "can-i", "list", "secrets", "-n", "kube-system"], asToken).out.trim()).toBe(
        "no",
      );
    }, 60_000);

    it("refuses an expired bootstrap token", () => {
      const old = generateBootstrapToken(randomBytes);
      const file = join(api.dir, "expired-token.yaml");
      writeFileSync(
        file,
        renderObjectsYaml([
          bootstrapTokenSecret({ token: old, expiration: new Date(Date.now() - 3_600_000) }),
        ]),
      );
      expect(api.kubectl(["apply", "-f", file]).ok).toBe(true);
      const who = api.kubectl(["auth", "whoami"], { token: formatBootstrapToken(old) });
      expect(who.ok).toBe(false);
      expect(who.err).toMatch(/Unauthorized|must be logged in/);
    }, 60_000);

    it("reviews real kubelet-serving CSRs as the apiserver stores them: the node's own approved, one with the NAT IP rejected", () => {
      const worker = cluster.workers[cluster.workers.length - 1]!;
      const user = `system:node:${worker.name}`;
      const submit = (name: string, san: string) => {
        const obj = servingCsrObject(name, servingCsrPem(worker.name, [san], join(api.dir, `${name}.key`)));
        const f = join(api.dir, `${name}.json`);
        writeFileSync(f, JSON.stringify(obj));
        // Created as the kubelet would: authenticated as the node.
        const created = api.kubectl(["create", "-f", f, "--as", user, "--as-group", "system:nodes"]);
        expect(created.err).toBe("");
        const stored = api.kubectl(["get", "csr", name, "-o", "json"]);
        return JSON.parse(stored.out) as CertificateSigningRequest;
      };
      const good = submit("serving-good", `DNS:${worker.name},IP:${worker.address}`);
      expect(good.spec.username).toBe(user);
      expect(reviewKubeletServingCsrFromCluster(good, cluster)).toEqual({
        verdict: "approve",
        node: worker.name,
        reasons: [],
      });
      expect(api.kubectl(["certificate", "approve", "serving-good"]).ok).toBe(true);
      const approved = JSON.parse(api.kubectl(["get", "csr", "serving-good", "-o", "json"]).out);
      expect(reviewKubeletServingCsrFromCluster(approved, cluster)).toEqual({
        verdict: "skip",
        reasons: ["already approved"],
      });
      const nat = submit("serving-nat", `DNS:${worker.name},IP:${worker.address},IP:10.0.2.15`);
      expect(reviewKubeletServingCsrFromCluster(nat, cluster).verdict).toBe("reject");
    }, 60_000);

    it("lets nodes renew their own client certificates", () => {
      const r = api.kubectl([
        "auth",
        "can-i",
        "create",
        "certificatesigningrequests.certificates.k8s.io",
        "--subresource=selfnodeclient",
        "--as",
        "system:node:some-worker",
        "--as-group",
        "system:nodes",
      ]);
      expect(r.out.trim()).toBe("yes");
    }, 60_000);

    it("lets the apiserver's kubelet-client user reach kubelets — and not the guide's kube-apiserver user", () => {
      for (const sub of ["proxy", "log", "stats", "metrics", "spec"]) {
        const can = (user: string) =>
          api.kubectl(["auth", "can-i", "get", "nodes", `--subresource=${sub}`, "--as", user]).out.trim();
        expect(can("kube-apiserver-kubelet-client"), sub).toBe("yes");
        expect(can("kube-apiserver"), sub).toBe("no");
      }
    }, 60_000);

    it("gives CoreDNS and the pod network (Weave Net or Flannel) the access they need", () => {
      const can = (sa: string, ...args: string[]) =>
        api
          .kubectl([
            "auth",
            "can-i",
            ...args,
            "--as",
            `system:serviceaccount:${sa.includes(":") ? sa : `kube-system:${sa}`}`,
          ])
          .out.trim();
      expect(can("coredns", "list", "endpointslices.discovery.k8s.io")).toBe("yes");
      expect(can("coredns", "watch", "services")).toBe("yes");
      expect(can("coredns", "list", "namespaces")).toBe("yes");
      expect(can("coredns", "delete", "pods")).toBe("no");
      if (cluster.spec.addons.podNetwork === "flannel") {
        const flannel = "kube-flannel:flannel";
        expect(can(flannel, "watch", "nodes")).toBe("yes");
        expect(can(flannel, "patch", "nodes", "--subresource=status")).toBe("yes");
        expect(can(flannel, "get", "pods", "-n", "kube-flannel")).toBe("yes");
        expect(can(flannel, "patch", "nodes")).toBe("no");
        expect(can(flannel, "list", "secrets", "-n", "kube-flannel")).toBe("no");
        return;
      }
      expect(can("weave-net", "list", "pods")).toBe("yes");
      expect(can("weave-net", "update", "configmaps/weave-net", "-n", "kube-system")).toBe("yes");
      expect(can("weave-net", "patch", "nodes", "--subresource=status")).toBe("yes");
      expect(can("weave-net", "update", "configmaps/other", "-n", "kube-system")).toBe("no");
    }, 60_000);
  },
);
