// A real etcd cluster started from the generated units' exact argv, with the certificates @khw/pki issues
// for the same cluster (its etcd-server SANs against our URLs). The binary is the one the spec pins (etcd
// v3.6.16 from the bundle, @khw/bundle's pinnedBinaries), not a machine's own; in CI a missing one fails.
// Rewritten for the test and nothing else: the binary path, /etc/etcd/ and /var/lib/etcd (into a temp dir);
// for 3 members on one machine also the shared https://127.0.0.1:2379 listener (one port per member), since
// the members share this machine's loopback. The single member runs in its own network namespace with its
// argv untouched but for the paths.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { catalogueFromCluster, issuePki, pkiFilesFromCluster } from "@khw/pki";
import type { Cluster } from "@khw/spec";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BINARY_PATHS, PATHS, PKI_PATHS, UNIT_DIR, unitFilesFromCluster } from "../src/index";
import { KEY, singleMasterCluster, unusualCluster } from "./_fixtures";
import { execStartOf, flagMap } from "./_unit-text";

const pinned = pinnedBinaries();
const skip = prerequisiteSkip(pinned.missing);
const ETCD = pinned.etcd;
const ETCDCTL = pinned.etcdctl;

interface Member {
  name: string;
  address: string;
  argv: string[];
  child?: ChildProcess;
  log: string;
  /** Run etcdctl in the member's network namespace (single-member case). */
  netnsPid?: number;
}

function generatedArgv(cluster: Cluster, node: string): string[] {
  const unit = unitFilesFromCluster(cluster, { encryptionKey: KEY }).find(
    (f) => f.host === node && f.path === `${UNIT_DIR}/etcd.service`,
  )!;
  return execStartOf(unit.contents);
}

function rewrite(argv: string[], root: string, member: string, localPort?: number): string[] {
  const out = argv.map((a, i) => {
    if (i === 0) return a === BINARY_PATHS.etcd ? ETCD : a;
    let s = a
      .replaceAll(`${PATHS.etcdDir}/`, `${root}/${member}${PATHS.etcdDir}/`)
      .replace(`=${PATHS.etcdDataDir}`, `=${root}/${member}/data`);
    if (localPort !== undefined) s = s.replace("https://127.0.0.1:2379", `https://127.0.0.1:${localPort}`);
    return s;
  });
  // Only what the header says may differ.
  const changed = argv.filter((a, i) => a !== out[i]).map((a) => (a.startsWith("--") ? a.split("=")[0] : a));
  const allowed = [
    BINARY_PATHS.etcd,
    "--cert-file",
    "--key-file",
    "--peer-cert-file",
    "--peer-key-file",
    "--trusted-ca-file",
    "--peer-trusted-ca-file",
    "--data-dir",
    ...(localPort !== undefined ? ["--listen-client-urls"] : []),
  ];
  for (const c of changed) expect(allowed).toContain(c);
  return out;
}

function start(m: Member, netns: boolean): void {
  const fd = openSync(m.log, "a");
  const [exe, ...args] = m.argv;
  m.child = netns
    ? spawn("unshare", ["--net", "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', exe!, ...args], {
        stdio: ["ignore", fd, fd],
      })
    : spawn(exe!, args, { stdio: ["ignore", fd, fd] });
  if (netns) m.netnsPid = m.child.pid;
}

async function stop(members: Member[]): Promise<void> {
  await Promise.all(
    members.map(async (m) => {
      const c = m.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once("exit", () => r()));
      c.kill("SIGTERM");
      const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    }),
  );
}

function etcdctl(root: string, m: Member, args: string[], withCert = true) {
  const dir = `${root}/${m.name}${PATHS.etcdDir}`;
  const tls = [
    `--cacert=${dir}/ca.crt`,
    ...(withCert ? [`--cert=${dir}/etcd-server.crt`, `--key=${dir}/etcd-server.key`] : []),
  ];
  const timeouts = withCert
    ? ["--dial-timeout=3s", "--command-timeout=5s"]
    : ["--dial-timeout=1s", "--command-timeout=2s"];
  const cmd = [ETCDCTL, `--endpoints=https://${m.address}:2379`, ...tls, ...timeouts, ...args];
  const full = m.netnsPid !== undefined ? ["nsenter", `--net=/proc/${m.netnsPid}/ns/net`, ...cmd] : cmd;
  const r = spawnSync(full[0]!, full.slice(1), {
    encoding: "utf8",
    // no ETCDCTL_API=3: etcdctl 3.6 speaks v3 only and warns about the variable on stderr
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "ETCDCTL_API")),
    timeout: 20_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Waits (no assertion on time) until every member answers; fails with the logs if one exits. */
async function waitHealthy(root: string, members: Member[]): Promise<void> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    for (const m of members) {
      if (m.child?.exitCode !== null && m.child?.exitCode !== undefined)
        throw new Error(`${m.name} exited:\n${readFileSync(m.log, "utf8").slice(-3000)}`);
    }
    const checks = members.map((m) => etcdctl(root, m, ["endpoint", "health"]));
    if (checks.every((r) => r.status === 0)) return;
    if (Date.now() > deadline) {
      const logs = members.map(
        (m, i) => `${m.name}: etcdctl: ${checks[i]!.out}\n${readFileSync(m.log, "utf8").slice(-1500)}`,
      );
      throw new Error(`not healthy:\n${logs.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Issues the cluster's PKI with @khw/pki and writes each control plane's /etc/etcd files under root/<node>/. */
async function setup(cluster: Cluster): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "khw-etcd-"));
  const catalogue = catalogueFromCluster(cluster);
  const material = await issuePki({ catalogue, now: new Date() });
  for (const f of pkiFilesFromCluster(cluster, catalogue, material)) {
    if (!f.path.startsWith(`${PATHS.etcdDir}/`)) continue;
    const dest = join(root, f.host, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, f.contents, { mode: f.mode });
  }
  return root;
}

describe.skipIf(skip !== undefined)(
  `a 3-member etcd cluster from the generated units (127.0.0.11-13)${skip ? ` — skipped: ${skip}` : ""}`,
  () => {
    const cluster = unusualCluster();
    let root: string;
    const members: Member[] = [];

    beforeAll(async () => {
      root = await setup(cluster);
      cluster.controlPlanes.forEach((n, i) => {
        mkdirSync(join(root, n.name), { recursive: true });
        members.push({
          name: n.name,
          address: n.address,
          argv: rewrite(generatedArgv(cluster, n.name), root, n.name, 23790 + i),
          log: join(root, `${n.name}.log`),
        });
      });
      try {
        for (const m of members) start(m, false); // all together: the first waits for quorum
        await waitHealthy(root, members);
      } catch (e) {
        await stop(members);
        throw e;
      }
    });
    afterAll(async () => {
      await stop(members);
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it("uses the certificate paths REFERENCE.md names", () => {
      const f = flagMap(generatedArgv(cluster, "cp-a"));
      expect(f.get("cert-file")).toBe(PKI_PATHS.etcdServer);
      expect(f.get("trusted-ca-file")).toBe(PKI_PATHS.etcdCa);
      expect(f.get("data-dir")).toBe("/var/lib/etcd");
    });

    it("endpoint health succeeds on every member with the client certificate", () => {
      for (const m of members) {
        const r = etcdctl(root, m, ["endpoint", "health"]);
        expect(r.status, r.out).toBe(0);
        expect(r.out).toContain("is healthy");
      }
    });

    it("member list shows the three members with the generated peer and client URLs", () => {
      const r = etcdctl(root, members[0]!, ["member", "list", "-w", "json"]);
      expect(r.status, r.out).toBe(0);
      const list = JSON.parse(r.out.slice(r.out.indexOf("{"))) as {
        members: { name: string; peerURLs: string[]; clientURLs: string[] }[];
      };
      const seen = list.members
        .map((m) => ({ name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs }))
        .sort((a, b) => a.name.localeCompare(b.name));
      expect(seen).toEqual(
        cluster.etcd.members.map((m) => ({ name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] })),
      );
    });

    it("a key written on one member is read on another", () => {
      expect(etcdctl(root, members[0]!, ["put", "/khw/test", "written-on-cp-a"]).status).toBe(0);
      const r = etcdctl(root, members[2]!, ["get", "/khw/test", "--print-value-only"]);
      expect(r.status, r.out).toBe(0);
      expect(r.out.trim()).toBe("written-on-cp-a");
    });

    it("refuses clients without a certificate", { timeout: 60_000 }, () => {
      for (const m of members) {
        const r = etcdctl(root, m, ["endpoint", "health"], false);
        expect(r.status, r.out).not.toBe(0);
        expect(r.out).toMatch(/unhealthy/);
        // the member itself says why: the TLS handshake without a client certificate was rejected
        expect(readFileSync(m.log, "utf8")).toContain("client didn't provide a certificate");
      }
      expect(etcdctl(root, members[1]!, ["get", "/khw/test"], false).status).not.toBe(0);
    });
  },
);

describe.skipIf(skip !== undefined)(
  `a single etcd member from the generated unit (own network namespace, argv as generated)${skip ? ` — skipped: ${skip}` : ""}`,
  () => {
    const cluster = singleMasterCluster();
    let root: string;
    const members: Member[] = [];

    beforeAll(async () => {
      root = await setup(cluster);
      const n = cluster.controlPlanes[0]!;
      mkdirSync(join(root, n.name), { recursive: true });
      members.push({
        name: n.name,
        address: n.address,
        argv: rewrite(generatedArgv(cluster, n.name), root, n.name),
        log: join(root, "solo.log"),
      });
      try {
        start(members[0]!, true);
        await waitHealthy(root, members);
      } catch (e) {
        await stop(members);
        throw e;
      }
    });
    afterAll(async () => {
      await stop(members);
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it("is healthy with the client cert, also on the 127.0.0.1 listener, and refuses without it", {
      timeout: 60_000,
    }, () => {
      const m = members[0]!;
      expect(etcdctl(root, m, ["endpoint", "health"]).status).toBe(0);
      expect(etcdctl(root, { ...m, address: "127.0.0.1" }, ["endpoint", "health"]).status).toBe(0);
      const anon = etcdctl(root, m, ["endpoint", "health"], false);
      expect(anon.status, anon.out).not.toBe(0);
      expect(readFileSync(m.log, "utf8")).toContain("client didn't provide a certificate");
      const list = etcdctl(root, m, ["member", "list"]);
      expect(list.status).toBe(0);
      expect(list.out).toContain("solo-cp, https://127.0.0.11:2380, https://127.0.0.11:2379");
    });

    it("stores and reads a key", () => {
      const m = members[0]!;
      expect(etcdctl(root, m, ["put", "k", "v1"]).status).toBe(0);
      expect(etcdctl(root, m, ["get", "k", "--print-value-only"]).out.trim()).toBe("v1");
    });
  },
);
