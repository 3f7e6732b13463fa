// REFERENCE.md smoke test 5 in miniature: HAProxy running the generated config (https-readyz check,
// verified against the cluster CA) in front of two real kube-apiservers v1.34.4 sharing one etcd,
// all on 127.0.0.1, with the cluster's certificates from @khw/pki. kubectl with the admin client
// certificate works through the load balancer (TLS passes through, so client-certificate auth does
// too) and reaches both apiservers; when one is stopped, HAProxy marks it DOWN and kubectl keeps
// working; restarted, it comes back. Every process is stopped by PID in afterAll.
//
// Needs kube-apiserver (see kubeBinaries()) and etcd; skipped, with the reason, without them.
import type { ChildProcess } from "node:child_process";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { catalogueFromCluster, issuePki } from "@khw/pki";
import { prerequisiteSkip } from "@khw/test-kit/pinned";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiLoadBalancerText } from "../src/index";
import {
  defaultCluster,
  freePort,
  kubeBinaries,
  Processes,
  serverStats,
  waitFor,
  waitForStatus,
} from "./_support";

const bins = kubeBinaries();
// locally the reason to skip; in CI an Error naming what is missing
const skip = prerequisiteSkip(bins.missing);
const procs = new Processes();
const tmp = mkdtempSync(join(tmpdir(), "khw-haproxy-ha-"));

afterAll(async () => {
  await procs.stopAll(0);
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(skip !== undefined)(
  `HAProxy in front of two real kube-apiservers${skip ? ` — skipped: ${skip}` : ""}`,
  () => {
    const cluster = defaultCluster();
    const file = (name: string) => join(tmp, name);
    const ports = { etcd: 0, peer: 0, lb: 0, stats: 0, a: 0, b: 0 };
    let apiserverArgs: (port: number) => string[];
    let haproxy: ChildProcess;
    const apiservers: Record<string, ChildProcess> = {};

    const kubectl = (...args: string[]) => {
      const r = spawnSync(
        bins.kubectl,
        [
          "--server",
          `https://127.0.0.1:${ports.lb}`,
          "--certificate-authority",
          file("ca.crt"),
          "--client-certificate",
          file("admin.crt"),
          "--client-key",
          file("admin.key"),
          "--request-timeout=10s",
          ...args,
        ],
        { encoding: "utf8", env: { PATH: process.env["PATH"] ?? "", HOME: tmp } },
      );
      return { ok: r.status === 0, out: r.stdout ?? "", err: r.stderr ?? "" };
    };

    const startApiserver = async (name: "master-1" | "master-2", port: number) => {
      apiservers[name] = await procs.start(bins.apiserver, apiserverArgs(port), undefined);
    };

    beforeAll(async () => {
      for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
      // The cluster's own certificates: CA, kube-apiserver (SANs include 127.0.0.1 and `kubernetes`),
      // service-account, admin (O=system:masters).
      const ids = ["ca", "kube-apiserver", "service-account", "admin"];
      const material = await issuePki({
        catalogue: catalogueFromCluster(cluster).filter((c) => ids.includes(c.id)),
        now: new Date(),
      });
      for (const id of ids) {
        writeFileSync(file(`${id}.crt`), material[id]!.cert);
        writeFileSync(file(`${id}.key`), material[id]!.key, { mode: 0o600 });
      }
      await procs.start(
        bins.etcd,
        [
          "--data-dir",
          file("etcd"),
          "--listen-client-urls",
          `http://127.0.0.1:${ports.etcd}`,
          "--advertise-client-urls",
          `http://127.0.0.1:${ports.etcd}`,
          "--listen-peer-urls",
          `http://127.0.0.1:${ports.peer}`,
          "--initial-advertise-peer-urls",
          `http://127.0.0.1:${ports.peer}`,
          "--initial-cluster",
          `default=http://127.0.0.1:${ports.peer}`,
        ],
        undefined,
      );
      apiserverArgs = (port) => [
        `--etcd-servers=http://127.0.0.1:${ports.etcd}`,
        `--secure-port=${port}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--tls-cert-file=${file("kube-apiserver.crt")}`,
        `--tls-private-key-file=${file("kube-apiserver.key")}`,
        `--client-ca-file=${file("ca.crt")}`,
        "--authorization-mode=Node,RBAC",
        `--service-cluster-ip-range=${cluster.network.serviceCIDR}`,
        `--service-account-issuer=https://127.0.0.1:${ports.lb}`,
        `--service-account-key-file=${file("service-account.crt")}`,
        `--service-account-signing-key-file=${file("service-account.key")}`,
      ];
      await startApiserver("master-1", ports.a);
      await startApiserver("master-2", ports.b);
      const cfg = apiLoadBalancerText({
        clusterName: cluster.name,
        bind: { address: "127.0.0.1", port: ports.lb },
        servers: [
          { name: "master-1", address: "127.0.0.1", port: ports.a },
          { name: "master-2", address: "127.0.0.1", port: ports.b },
        ],
        healthCheck: "https-readyz",
        tlsVerify: { caFile: file("ca.crt"), serverName: "kubernetes" },
        stats: { address: "127.0.0.1", port: ports.stats },
        global: { maxconn: 256 },
      });
      writeFileSync(file("haproxy.cfg"), cfg);
      haproxy = await procs.start("haproxy", ["-db", "-f", file("haproxy.cfg")], undefined);
    }, 120_000);

    it("serves kubectl through the load balancer from both apiservers, survives one stopping, takes it back", async () => {
      const logs = () =>
        Object.entries(apiservers)
          .map(([n, c]) => `--- ${n} ---\n${procs.output(c).slice(-1500)}`)
          .join("\n") + `\n--- haproxy ---\n${procs.output(haproxy).slice(-1500)}`;
      await waitFor(
        "both apiservers UP in HAProxy",
        async () => {
          const s = await serverStats(ports.stats);
          return {
            done: s["master-1"]?.status === "UP" && s["master-2"]?.status === "UP",
            seen: `${JSON.stringify(s)}\n${logs()}`,
          };
        },
        90_000,
      );

      // Through the LB: TLS verified against the cluster CA, the admin's client certificate accepted.
      const before = await serverStats(ports.stats);
      for (let i = 0; i < 6; i++) {
        const r = kubectl("get", "--raw", "/version");
        expect(r.err).toBe("");
        expect(JSON.parse(r.out).gitVersion).toBe("v1.34.4");
      }
      const after = await serverStats(ports.stats);
      for (const s of ["master-1", "master-2"]) {
        expect(after[s]!.sessions, s).toBeGreaterThan(before[s]!.sessions);
      }
      expect(kubectl("create", "namespace", "ha-check").ok).toBe(true);

      // master-1's apiserver stops: HAProxy takes it out, kubectl keeps working on master-2.
      await procs.stop(apiservers["master-1"]!, 10_000);
      await waitForStatus(ports.stats, "master-1", "DOWN");
      for (let i = 0; i < 6; i++) {
        const r = kubectl("get", "namespace", "ha-check", "-o", "name");
        expect(r.err).toBe("");
        expect(r.out.trim()).toBe("namespace/ha-check");
      }

      // Restarted, it is back in the pool.
      await startApiserver("master-1", ports.a);
      await waitForStatus(ports.stats, "master-1", "UP");
      const back = await serverStats(ports.stats);
      for (let i = 0; i < 6; i++) expect(kubectl("get", "--raw", "/readyz").out).toBe("ok");
      const end = await serverStats(ports.stats);
      expect(end["master-1"]!.sessions).toBeGreaterThan(back["master-1"]!.sessions);
    }, 240_000);
  },
);
