// The control plane of a one-master cluster, run from the generated units: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler started with the exact argv of their units, with the
// certificates of @khw/pki, the kubeconfigs of @khw/kubeconfig and this package's config files, in a private
// network namespace. Rewritten: binary paths (the pinned release binaries) and the file paths (into a temp
// root) — in argv and in the config files that name other files.
// The binaries come from khw's offline bundle (`khw bundle build`, apps/bundle): ~/.cache/khw/bundles/
// k8s-<version>_etcd-<version>-amd64 or $KHW_BUNDLE_DIR. Without a bundle this suite is skipped, visibly.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { kubeconfigFilesFromCluster } from "@khw/kubeconfig";
import { catalogueFromCluster, issuePki, pkiFilesFromCluster } from "@khw/pki";
import { ClusterSpecSchema, type GeneratedFile, resolveCluster } from "@khw/spec";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BINARY_PATHS, UNIT_DIR, unitFilesFromCluster } from "../src/index";
import { KEY } from "./_fixtures";
import { execStartOf } from "./_unit-text";

/**
 * One master at 192.0.2.11 (TEST-NET-1, on the loopback interface of the private namespace): not a loopback
 * address, because the apiserver refuses to publish a 127.0.0.0/8 advertise address as the `kubernetes`
 * Service's endpoint ("may not be in the loopback range").
 */
const cluster = resolveCluster(
  ClusterSpecSchema.parse({
    name: "cp-test",
    nodes: [{ name: "solo-cp", role: "controlplane", address: "192.0.2.11" }],
  }),
).cluster;
const v = cluster.spec.versions;
const pinned = pinnedBinaries();
const k8sBin = dirname(pinned.kubeApiserver);
const etcdBin = dirname(pinned.etcd);
const skip = prerequisiteSkip(pinned.missing);
const haveBundle = skip === undefined;

const NODE = "solo-cp";
const SERVICES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

let root: string;
let holder: ChildProcess | undefined;
const procs: { name: string; child: ChildProcess; log: string }[] = [];
let bins: Record<string, string>;

/** Every absolute path of the generated files, moved under root. */
const relocate = (text: string) =>
  text.replace(
    /(?<=^|[\s="',:])\/(etc\/etcd|var\/lib\/kubernetes|var\/lib\/etcd|var\/log)(?=\/|\b)/gm,
    `${root}/$1`,
  );

function inNetns(cmd: string[], extra: { encoding: "utf8" } = { encoding: "utf8" }) {
  return spawnSync("nsenter", [`--net=/proc/${holder!.pid}/ns/net`, ...cmd], { ...extra, timeout: 30_000 });
}

function kubectl(args: string[]) {
  const r = inNetns([
    bins["kubectl"]!,
    `--kubeconfig=${root}/var/lib/kubernetes/admin.kubeconfig`,
    "--request-timeout=10s",
    ...args,
  ]);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function stopAll(): Promise<void> {
  const all = [...procs.map((p) => p.child).reverse(), ...(holder ? [holder] : [])];
  for (const c of all) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }
}

describe.skipIf(!haveBundle)(
  `a control plane from the generated units (release binaries in ${pinned.bundleDir})${skip ? ` — skipped: ${skip}` : ""}`,
  () => {
    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), "khw-cp-"));
      bins = {
        [BINARY_PATHS.kubeApiserver]: join(k8sBin, "kube-apiserver"),
        [BINARY_PATHS.kubeControllerManager]: join(k8sBin, "kube-controller-manager"),
        [BINARY_PATHS.kubeScheduler]: join(k8sBin, "kube-scheduler"),
        kubectl: join(k8sBin, "kubectl"),
      };
      bins[BINARY_PATHS.etcd] = join(etcdBin, "etcd");
      bins["etcdctl"] = join(etcdBin, "etcdctl");

      const catalogue = catalogueFromCluster(cluster);
      const material = await issuePki({ catalogue, now: new Date() });
      const files: GeneratedFile[] = [
        ...pkiFilesFromCluster(cluster, catalogue, material),
        ...kubeconfigFilesFromCluster(cluster, {
          caPem: material["ca"]!.cert,
          adminCertPem: material["admin"]!.cert,
          adminKeyPem: material["admin"]!.key,
        }),
        ...unitFilesFromCluster(cluster, { encryptionKey: KEY }),
      ].filter((f) => f.host === NODE);
      for (const f of files) {
        const dest = join(root, f.path);
        mkdirSync(dirname(dest), { recursive: true });
        writeFileSync(dest, f.path.startsWith(UNIT_DIR) ? f.contents : relocate(f.contents), {
          mode: f.mode,
        });
      }
      mkdirSync(join(root, "var/log"), { recursive: true });

      holder = spawn(
        "unshare",
        [
          "--net",
          "--",
          "sh",
          "-c",
          `ip link set lo up && ip addr add ${cluster.controlPlanes[0]!.address}/32 dev lo && exec sleep infinity`,
        ],
        { stdio: "ignore" },
      );
      await new Promise((r) => setTimeout(r, 300));
      try {
        for (const s of SERVICES) {
          const unit = files.find((f) => f.path === `${UNIT_DIR}/${s}.service`)!;
          const [exe, ...args] = execStartOf(unit.contents);
          const log = join(root, `${s}.log`);
          const fd = openSync(log, "a");
          const child = spawn(
            "nsenter",
            [`--net=/proc/${holder.pid}/ns/net`, bins[exe!]!, ...args.map(relocate)],
            {
              stdio: ["ignore", fd, fd],
            },
          );
          procs.push({ name: s, child, log });
        }
        const deadline = Date.now() + 120_000;
        for (;;) {
          const dead = procs.find((p) => p.child.exitCode !== null);
          if (dead) throw new Error(`${dead.name} exited:\n${readFileSync(dead.log, "utf8").slice(-3000)}`);
          const r = kubectl(["get", "--raw", "/readyz"]);
          if (r.status === 0 && r.out.trim() === "ok") break;
          if (Date.now() > deadline) {
            throw new Error(
              `not ready: ${r.out}\n${procs.map((p) => `${p.name}: ${readFileSync(p.log, "utf8").slice(-1500)}`).join("\n")}`,
            );
          }
          await new Promise((res) => setTimeout(res, 1000));
        }
      } catch (e) {
        await stopAll();
        throw e;
      }
    }, 240_000);

    afterAll(async () => {
      await stopAll();
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it("kube-apiserver is ready with the generated admin kubeconfig, serving the service CIDR's first address", async () => {
      const svc = kubectl(["get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"]);
      expect(svc.status, svc.out).toBe(0);
      expect(svc.out).toBe(cluster.network.apiServiceIP);
      // the endpoint reconciler publishes --advertise-address (the master's own address) shortly after readiness
      const deadline = Date.now() + 60_000;
      let ep = kubectl([
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=kubernetes",
        "-o",
        "jsonpath={.items[*].endpoints[*].addresses[*]}",
      ]);
      while (ep.out !== cluster.controlPlanes[0]!.address && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 1000));
        ep = kubectl([
          "get",
          "endpointslices",
          "-l",
          "kubernetes.io/service-name=kubernetes",
          "-o",
          "jsonpath={.items[*].endpoints[*].addresses[*]}",
        ]);
      }
      expect(ep.out).toBe(cluster.controlPlanes[0]!.address);
    }, 90_000);

    it("secrets are encrypted at rest with aescbc key1 (REFERENCE smoke test 1)", () => {
      expect(
        kubectl(["create", "secret", "generic", "kubernetes-the-hard-way", "--from-literal=mykey=mydata"])
          .status,
      ).toBe(0);
      const r = inNetns([
        bins["etcdctl"]!,
        "--endpoints=https://127.0.0.1:2379",
        `--cacert=${root}/etc/etcd/ca.crt`,
        `--cert=${root}/etc/etcd/etcd-server.crt`,
        `--key=${root}/etc/etcd/etcd-server.key`,
        "get",
        "/registry/secrets/default/kubernetes-the-hard-way",
        "--print-value-only",
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain("k8s:enc:aescbc:v1:key1:");
      expect(r.stdout).not.toContain("mydata");
    });

    it("controller-manager and scheduler authenticate with their kubeconfigs and take their leases", async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = kubectl([
          "-n",
          "kube-system",
          "get",
          "lease",
          "kube-controller-manager",
          "kube-scheduler",
          "-o",
          "jsonpath={.items[*].spec.holderIdentity}",
        ]);
        const holders = r.status === 0 ? r.out.trim().split(/\s+/).filter(Boolean) : [];
        // a lease held proves the component authenticated with its kubeconfig and is authorized to lead
        if (holders.length === 2) break;
        if (Date.now() > deadline) throw new Error(`no leases: ${r.out}`);
        await new Promise((res) => setTimeout(res, 1000));
      }
    }, 90_000);

    it("every component is still running", () => {
      for (const p of procs) expect(p.child.exitCode, p.name).toBeNull();
    });
  },
);

describe.skipIf(!haveBundle)(
  "kubelet and kube-proxy accept every flag of their generated units (release binaries)",
  () => {
    const workers = resolveCluster(
      ClusterSpecSchema.parse({
        name: "w-test",
        nodes: [
          { name: "m", role: "controlplane", address: "192.0.2.11" },
          { name: "w-cert", role: "worker", address: "192.0.2.21" },
          {
            name: "w-boot",
            role: "worker",
            address: "192.0.2.22",
            kubelet: { credentials: "tls-bootstrap" },
          },
        ],
      }),
    ).cluster;

    /** `--version` is handled after flag parsing and before any config file is read or anything is started. */
    const parses = (binary: string, args: string[]) => {
      const r = spawnSync(join(k8sBin, binary), [...args, "--version"], {
        encoding: "utf8",
        timeout: 30_000,
      });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };

    it("for both kubelet modes and kube-proxy", () => {
      const files = unitFilesFromCluster(workers, { encryptionKey: KEY });
      for (const [host, service] of [
        ["w-cert", "kubelet"],
        ["w-boot", "kubelet"],
        ["w-cert", "kube-proxy"],
      ] as const) {
        const unit = files.find((f) => f.host === host && f.path === `${UNIT_DIR}/${service}.service`)!;
        const [, ...args] = execStartOf(unit.contents);
        const r = parses(service, args);
        expect(r.out, `${host} ${service}`).toBe(`Kubernetes ${v.kubernetes}\n`);
        expect(r.status).toBe(0);
      }
    });

    it("and refuse one they do not know (the check can fail)", () => {
      expect(parses("kubelet", ["--no-such-flag=1"]).out).toContain("unknown flag: --no-such-flag");
      expect(parses("kube-proxy", ["--no-such-flag=1"]).status).not.toBe(0);
    });
  },
);

const containerdTar = join(
  pinned.bundleDir,
  `github.com/containerd/containerd/releases/download/v${v.containerd}/containerd-${v.containerd}-linux-amd64.tar.gz`,
);

const containerdSkip = prerequisiteSkip(
  existsSync(containerdTar) ? [] : [`no ${containerdTar}: run \`pnpm khw bundle build\``],
);
describe.skipIf(containerdSkip !== undefined)(
  `containerd ${v.containerd} reads the generated config.toml${containerdSkip ? ` — skipped: ${containerdSkip}` : ""}`,
  () => {
    let dir: string;
    let dumps = 0;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "khw-containerd-"));
      const tar = spawnSync("tar", ["-xzf", containerdTar, "-C", dir, "bin/containerd"], {
        encoding: "utf8",
      });
      if (tar.status !== 0) throw new Error(tar.stderr);
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** `containerd config dump`: the configuration containerd would run with, after migration and defaults. */
    const dump = (toml: string) => {
      const file = join(dir, `config-${++dumps}.toml`);
      writeFileSync(file, toml);
      const r = spawnSync(join(dir, "bin/containerd"), ["--config", file, "config", "dump"], {
        encoding: "utf8",
        timeout: 30_000,
      });
      if (r.status !== 0) throw new Error(r.stderr);
      const runtime = (parseToml(r.stdout) as unknown as { plugins: Record<string, Cri> }).plugins[
        "io.containerd.cri.v1.runtime"
      ]!;
      return runtime;
    };
    interface Cri {
      containerd: {
        default_runtime_name: string;
        runtimes: Record<string, { runtime_type: string; options: Record<string, unknown> }>;
      };
      cni: { bin_dirs: string[]; conf_dir: string };
    }

    it("runc with SystemdCgroup, the runc binary, and the CNI directories take effect", () => {
      const toml = unitFilesFromCluster(workersCluster(), { encryptionKey: KEY }).find(
        (f) => f.path === "/etc/containerd/config.toml",
      )!.contents;
      const rt = dump(toml);
      expect(rt.containerd.default_runtime_name).toBe("runc");
      expect(rt.containerd.runtimes["runc"]!.runtime_type).toBe("io.containerd.runc.v2");
      expect(rt.containerd.runtimes["runc"]!.options["SystemdCgroup"]).toBe(true);
      expect(rt.containerd.runtimes["runc"]!.options["BinaryName"]).toBe(BINARY_PATHS.runc);
      expect(rt.cni.bin_dirs).toEqual(["/opt/cni/bin"]);
      expect(rt.cni.conf_dir).toBe("/etc/cni/net.d");
    });

    it("a containerd 1.x table name in a version 3 file does not take effect (the check can fail)", () => {
      const wrong =
        'version = 3\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n';
      expect(dump(wrong).containerd.runtimes["runc"]!.options["SystemdCgroup"]).not.toBe(true);
    });
  },
);

function workersCluster() {
  return resolveCluster(
    ClusterSpecSchema.parse({
      name: "ctd",
      nodes: [
        { name: "m", role: "controlplane", address: "192.0.2.11" },
        { name: "w", role: "worker", address: "192.0.2.21" },
      ],
    }),
  ).cluster;
}
