// khw upgrade plan/apply through the FakeHosts recording executor: a cluster brought up at v1.34.3 by
// `khw up` is upgraded to v1.34.4 (fake release files of both versions in one bundle directory, real
// checksums); the order of the steps, the drains, the snapshot, the resume after a failure and the
// rewritten cluster.yaml are checked. The real run is e2e/test/lifecycle-upgrade.e2e.test.ts.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { CommandOp } from "@khw/remote-exec";
import { defaultClusterSpecInput, loadCluster, parseClusterYaml, renderClusterYaml } from "@khw/spec";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SAVE_SCRIPT } from "../src/day2/etcd";
import { VERSIONS_SCRIPT } from "../src/upgrade/observe";
import { withKubernetesVersion } from "../src/upgrade/spec-version";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { FakeHosts, makeFakeBundle } from "./golden/fake-hosts";
import { fixedSeams } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";

const FROM = "v1.34.3";
const TO = "v1.34.4";
const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

// The snapshot the fake hosts' etcdctl saves is a real one: written by the pinned etcd v3.6.16 started
// here on loopback, with its `etcdutl snapshot status` (saveSnapshot verifies both). In CI a missing
// etcd fails the run, naming it.
const pinned = pinnedBinaries();
const etcdutl = join(dirname(pinned.etcdctl), "etcdutl");
const skip = prerequisiteSkip([...pinned.missing, ...(existsSync(etcdutl) ? [] : [`no ${etcdutl}`])]);
let snapshot: { bytes: Buffer; status: string; revision: number };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A real etcd on loopback, one key written, `etcdctl snapshot save`, etcd stopped: the snapshot's bytes and status. */
async function realSnapshot(): Promise<typeof snapshot> {
  const work = mkdtempSync(join(tmpdir(), "khw-upgrade-etcd-"));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const etcd = spawn(
    pinned.etcd,
    [
      `--data-dir=${join(work, "data")}`,
      "--name=default",
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=default=http://127.0.0.1:${peer}`,
    ],
    { stdio: "ignore" },
  );
  const ctl = (...args: string[]) =>
    spawnSync(pinned.etcdctl, [`--endpoints=${url}`, ...args], { encoding: "utf8", timeout: 20_000 });
  try {
    for (let i = 0; ctl("endpoint", "health").status !== 0; i++) {
      if (i > 100) throw new Error(`the pinned etcd did not answer on ${url}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ctl("put", "/registry/khw/upgrade-test", "kept").status).toBe(0);
    const file = join(work, "snap.db");
    const saved = ctl("snapshot", "save", file);
    expect(saved.status, saved.stderr).toBe(0);
    const st = spawnSync(etcdutl, ["snapshot", "status", file, "-w", "json"], { encoding: "utf8" });
    expect(st.status, st.stderr).toBe(0);
    return {
      bytes: readFileSync(file),
      status: st.stdout,
      revision: (JSON.parse(st.stdout) as { revision: number }).revision,
    };
  } finally {
    etcd.kill("SIGTERM");
    await new Promise((r) => (etcd.exitCode === null ? etcd.once("exit", r) : r(undefined)));
    rmSync(work, { recursive: true, force: true });
  }
}

/** etcdctl as a healthy 2-member etcd (master-1 the leader) answers `khw etcd status`'s probes. */
function healthyEtcd(cluster: ReturnType<typeof loadCluster>["cluster"]) {
  const argv = (op: CommandOp) => (op.kind === "exec" ? op.argv : []);
  const is = (op: CommandOp, ...w: string[]) =>
    argv(op)[0] === "/usr/local/bin/etcdctl" && w.every((x) => argv(op).includes(x));
  const urls = (op: CommandOp) =>
    argv(op)
      .find((a) => a.startsWith("--endpoints="))!
      .slice(12)
      .split(",");
  const id = (u: string) => 11 + cluster.etcd.members.findIndex((m) => m.clientURL === u);
  return [
    {
      command: (op: CommandOp) => is(op, "endpoint", "status"),
      result: (op: CommandOp) => ({
        stdout: `[{"Endpoint":"${urls(op)[0]}","Status":{"header":{"cluster_id":1,"member_id":${id(urls(op)[0]!)},"revision":42,"raft_term":3},"version":"3.6.16","dbSize":20480,"leader":11,"raftIndex":99,"raftTerm":3,"raftAppliedIndex":99,"dbSizeInUse":20480}}]\n`,
      }),
    },
    {
      command: (op: CommandOp) => is(op, "endpoint", "health"),
      result: (op: CommandOp) => ({
        stdout: `[${urls(op)
          .map((u) => `{"endpoint":"${u}","health":true,"took":"3ms"}`)
          .join(",")}]\n`,
      }),
    },
    {
      command: (op: CommandOp) => is(op, "member", "list"),
      result: () => ({
        stdout: `{"header":{"cluster_id":1},"members":[${cluster.etcd.members
          .map((m, i) => `{"ID":${11 + i},"name":"${m.name}","peerURLs":["${m.peerURL}"]}`)
          .join(",")}]}\n`,
      }),
    },
  ];
}
/** The digest of a fake plain executable of the bundle (see makeFakeBundle). */
const fakeDigest = (id: string, version: string) => sha(`#!/bin/sh\necho fake ${id} ${version}\n`);

let dir: string;
let cleanup: () => void;
let hosts: FakeHosts;
let env: Record<string, string>;

function writeSpec(): void {
  const input = defaultClusterSpecInput();
  input.binaries = { source: "bundle", bundleDir: "bundle", arch: "amd64" };
  input.versions = { ...input.versions, kubernetes: FROM };
  const { cluster } = loadCluster(input);
  // Both versions in one bundle directory (as `khw bundle build -o DIR` of each makes it).
  makeFakeBundle(cluster, join(dir, "bundle"), FROM);
  makeFakeBundle(
    loadCluster({ ...input, versions: { ...input.versions, kubernetes: TO } }).cluster,
    join(dir, "bundle"),
    TO,
  );
  writeFileSync(join(dir, "cluster.yaml"), `# my lab, pinned on purpose\n${renderClusterYaml(cluster.spec)}`);
  hosts = new FakeHosts(cluster, { rules: healthyEtcd(cluster) }).readiness();
  const has = (host: string, id: string, v: string) =>
    hosts.installed.get(`${host}//usr/local/bin/${id}`) === fakeDigest(id, v);
  const r = hosts.recorder;
  r.respond(
    (op) => op.kind === "shell" && op.script === VERSIONS_SCRIPT,
    (op) => {
      const args = op.kind === "shell" ? op.args : [];
      const lines: string[] = [];
      for (let i = 0; i < args.length; i += 2) {
        const id = args[i]!;
        const v = has(op.host, id, TO) ? TO : has(op.host, id, FROM) ? FROM : undefined;
        lines.push(`${id}\t${v ? `Kubernetes ${v}` : "missing"}`);
      }
      return { stdout: `${lines.join("\n")}\n` };
    },
  );
  r.respond(
    (op) => op.kind === "shell" && op.script === SAVE_SCRIPT,
    (op) => {
      r.setFile(op.host, op.kind === "shell" ? op.args[0]! : "", snapshot.bytes);
      return {};
    },
  );
  r.respond(
    (op) => op.kind === "exec" && op.argv[0] === "/usr/local/bin/etcdutl" && op.argv[1] === "snapshot",
    () => ({ stdout: snapshot.status }),
  );
  r.respond((op) => op.kind === "exec" && op.argv[0] === "rm", {});
  r.respond(/ get --raw \/version$/, (op) => ({
    stdout: `{"major":"1","gitVersion":"${has(op.host, "kube-apiserver", TO) && hosts.active.has(`${op.host}/kube-apiserver`) ? TO : FROM}"}`,
  }));
  r.respond(/ (cordon|uncordon|drain) /, (op) => ({
    stdout: `node/${/(?:cordon|drain) (\S+)/.exec(op.command)![1]} ok\n`,
  }));
  r.respond(/ get node \S+ -o '?jsonpath=/, (op) => {
    const node = / get node (\S+)/.exec(op.command)![1]!;
    return { stdout: `${has(node, "kubelet", TO) ? TO : FROM} True` };
  });
}

beforeAll(async () => {
  if (!skip) snapshot = await realSnapshot();
}, 60_000);

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  env = { XDG_CACHE_HOME: join(dir, "cache"), HOME: dir };
  writeSpec();
  setSeamsForTests({ ...fixedSeams(), executor: () => hosts, sleep: async () => {} });
  const up = await khw(dir, ["up"], env);
  expect(up.code, up.stderr).toBe(0);
});
afterEach(() => {
  resetSeamsForTests();
  cleanup();
});

/** The kubectl and systemctl commands since `from`, shortened to `host: verb object`. */
const actions = (from: number) =>
  hosts.commands
    .slice(from)
    .map(({ host, command }) => {
      const w = command.split(" ");
      if (w[0] === "systemctl") return w[1] === "restart" ? `${host}: restart ${w.at(-1)}` : undefined;
      const verb = w[3]!;
      return ["cordon", "drain", "uncordon"].includes(verb) ? `${verb} ${w[4]}` : undefined;
    })
    .filter((x): x is string => x !== undefined);

describe("khw upgrade plan", () => {
  it("plans v1.34.3 → v1.34.4 from the hosts' installed versions, as JSON too", async () => {
    const r = await khw(dir, ["upgrade", "plan", "--to", TO], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`upgrade ${FROM} → ${TO} (patch)`);
    expect(r.stdout).toContain(
      "binary kubelet: dl.k8s.io/release/v1.34.3/bin/linux/amd64/kubelet → dl.k8s.io/release/v1.34.4",
    );
    const j = await khw(dir, ["upgrade", "plan", "--to", TO, "--json"], env);
    const plan = JSON.parse(j.stdout) as { ok: boolean; steps: unknown[]; notes: string[] };
    expect(plan.ok).toBe(true);
    expect(plan.steps).toHaveLength(16);
    expect(plan.notes).toEqual([]);
  });

  it("refuses skipping a minor and a downgrade with the rule and the fix (exit 1)", async () => {
    const skip = await khw(dir, ["upgrade", "apply", "--to", "v1.36.0", "--yes"], env);
    expect(skip.code).toBe(1);
    expect(skip.stderr).toContain("refused by one-minor-at-a-time");
    expect(skip.stderr).toContain("fix: upgrade one minor at a time: first to the latest v1.35.x");
    const down = await khw(dir, ["upgrade", "plan", "--to", "v1.34.2", "--offline"], env);
    expect(down.code).toBe(1);
    expect(down.stdout).toContain("✗ no-downgrade: v1.34.2 is older than the cluster's v1.34.3");
    const unknown = await khw(dir, ["upgrade", "plan", "--to", "v1.99.0", "--offline"], env);
    expect(unknown.stdout).toContain("✗ supported-version");
  });

  it("notes hosts whose installed versions differ from the spec (an interrupted upgrade)", async () => {
    hosts.installed.set("worker-1//usr/local/bin/kubelet", fakeDigest("kubelet", TO));
    const r = await khw(dir, ["upgrade", "plan", "--to", TO], env);
    expect(r.stdout).toContain("installed versions differ from the spec's v1.34.3: worker-1 kubelet v1.34.4");
  });
});

describe.skipIf(skip !== undefined)("khw upgrade apply", () => {
  it("needs --yes without a terminal, and --dry-run changes nothing", async () => {
    const before = hosts.recorder.ops.length;
    const dry = await khw(dir, ["upgrade", "apply", "--to", TO, "--dry-run"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("16. cluster.yaml: versions.kubernetes: v1.34.4");
    expect(hosts.changesSince(before)).toEqual([]);
    const ask = await khw(dir, ["upgrade", "apply", "--to", TO], env);
    expect(ask.code).toBe(1);
    expect(ask.stderr).toContain("pass --yes");
  });

  it("snapshot, control planes one by one, then each worker cordoned, drained, replaced, uncordoned; cluster.yaml last", async () => {
    const from = hosts.commands.length;
    const r = await khw(dir, ["upgrade", "apply", "--to", TO, "--yes"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(actions(from)).toEqual([
      "master-1: restart kube-apiserver",
      "master-1: restart kube-controller-manager",
      "master-1: restart kube-scheduler",
      "master-2: restart kube-apiserver",
      "master-2: restart kube-controller-manager",
      "master-2: restart kube-scheduler",
      "cordon worker-1",
      "drain worker-1",
      "worker-1: restart kubelet",
      "worker-1: restart kube-proxy",
      "uncordon worker-1",
      "cordon worker-2",
      "drain worker-2",
      "worker-2: restart kubelet",
      "worker-2: restart kube-proxy",
      "uncordon worker-2",
    ]);
    // The drain respects PodDisruptionBudgets (the eviction API; never --disable-eviction or --force).
    const drain = hosts.commands.find((c) => c.command.includes(" drain worker-1"))!.command;
    expect(drain).toContain("--ignore-daemonsets --delete-emptydir-data --timeout=300s");
    expect(drain).not.toMatch(/--force|--disable-eviction/);
    // Every Kubernetes binary is the new one; etcd and the runtime were left alone.
    for (const [h, id] of [
      ["master-1", "kube-apiserver"],
      ["master-2", "kubectl"],
      ["worker-2", "kube-proxy"],
    ] as const)
      expect(hosts.installed.get(`${h}//usr/local/bin/${id}`), `${h} ${id}`).toBe(fakeDigest(id, TO));
    expect(hosts.commands.slice(from).some((c) => /restart (etcd|containerd)$/.test(c.command))).toBe(false);
    // The snapshot: on the admin machine, 0600, kept out of git, removed from the host.
    const backups = join(dir, "backups");
    const snaps = readdirSync(backups).filter((f) => f.endsWith(".db"));
    expect(snaps).toHaveLength(1);
    expect(statSync(join(backups, snaps[0]!)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(backups, ".gitignore"), "utf8")).toContain("*");
    expect(readFileSync(join(backups, snaps[0]!)).equals(snapshot.bytes)).toBe(true);
    expect(r.stdout).toContain(`sha256 ${sha(snapshot.bytes)} revision ${snapshot.revision}`);
    expect(hosts.commands.length).toBeGreaterThan(from);
    // cluster.yaml: the new version, the comment kept; the upgrade's state removed.
    const text = readFileSync(join(dir, "cluster.yaml"), "utf8");
    expect(text.startsWith("# my lab, pinned on purpose\n")).toBe(true);
    expect(parseClusterYaml(text).spec.versions.kubernetes).toBe(TO);
    expect(existsSync(join(dir, ".khw/upgrade.json"))).toBe(false);
    expect(r.stdout).toContain(`✓ upgraded to ${TO}`);
    // Again: nothing to do.
    const again = await khw(dir, ["upgrade", "apply", "--to", TO, "--yes"], env);
    expect(again.stdout).toContain("nothing to upgrade");
    // And khw up converges on the upgraded hosts: no change at all.
    const up = await khw(dir, ["up"], env);
    expect(up.stdout).toContain("converged: no changes");
  });

  it("a failure in the middle stops there; the next run resumes without a second snapshot or drain", async () => {
    hosts.failWhen = (op) => op.text.includes(" drain worker-2");
    const first = await khw(dir, ["upgrade", "apply", "--to", TO, "--yes"], env);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("drain worker-2");
    expect(parseClusterYaml(readFileSync(join(dir, "cluster.yaml"), "utf8")).spec.versions.kubernetes).toBe(
      FROM,
    );
    const state = JSON.parse(readFileSync(join(dir, ".khw/upgrade.json"), "utf8")) as { done: string[] };
    expect(state.done).toContain("uncordon worker-1");
    expect(state.done).toContain("cordon worker-2");
    // khw up with the spec still at FROM would put master-*/worker-1 back: refused, its dry run too
    for (const argv of [["up"], ["up", "--dry-run"]]) {
      const up = await khw(dir, argv, env);
      expect(up.code, up.stderr).toBe(1);
      expect(up.stderr).toContain(`an upgrade from ${FROM} to ${TO} is unfinished`);
      expect(up.stderr).toContain(`fix: finish it: khw upgrade apply --to ${TO} (it resumes)`);
    }
    const from = hosts.commands.length;
    const second = await khw(dir, ["upgrade", "apply", "--to", TO, "--yes"], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(
      "etcd snapshot from master-1, copied to the admin machine: done by an earlier run",
    );
    expect(actions(from)).toEqual([
      "drain worker-2",
      "worker-2: restart kubelet",
      "worker-2: restart kube-proxy",
      "uncordon worker-2",
    ]);
    expect(readdirSync(join(dir, "backups")).filter((f) => f.endsWith(".db"))).toHaveLength(1);
    expect(parseClusterYaml(readFileSync(join(dir, "cluster.yaml"), "utf8")).spec.versions.kubernetes).toBe(
      TO,
    );
  });
});

describe.skipIf(skip !== undefined)("khw upgrade apply --json", () => {
  it("--dry-run --json prints the plan; the run prints JSON lines only: progress, step events, then the result", async () => {
    const dry = await khw(dir, ["upgrade", "apply", "--to", TO, "--dry-run", "--json"], env);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan).toMatchObject({ type: "plan", dryRun: true, from: FROM, to: TO, ok: true });
    expect(plan.steps).toHaveLength(16);
    const r = await khw(dir, ["upgrade", "apply", "--to", TO, "--yes", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(new Set(events.map((e) => e["type"]))).toEqual(new Set(["progress", "step", "result"]));
    const progress = events.filter((e) => e["type"] === "progress").map((e) => String(e["message"]));
    expect(progress.some((m) => /^\[upgrade\] etcd snapshot from master-1, .*: done \(/.test(m))).toBe(true);
    expect(progress.at(-1)).toMatch(
      /^\[upgrade\] cluster\.yaml: versions\.kubernetes: v1\.34\.4 .*: done \(/,
    );
    const result = events.at(-1)!;
    expect(result).toMatchObject({
      type: "result",
      ok: true,
      from: FROM,
      to: TO,
      upgraded: true,
      ran: 16,
      specUpdated: true,
    });
    expect(result["snapshot"]).toMatchObject({ sha256: sha(snapshot.bytes), revision: snapshot.revision });
    const again = await khw(dir, ["upgrade", "apply", "--to", TO, "--yes", "--json"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ type: "result", upgraded: false, ran: 0 });
  });
});

describe("withKubernetesVersion", () => {
  it("sets versions.kubernetes keeping comments, order and the other versions", () => {
    const spec = renderClusterYaml(loadCluster(defaultClusterSpecInput()).cluster.spec);
    const text = `# top\n${spec.replace(/kubernetes: v\S+/, `kubernetes: ${FROM} # pinned`)}`;
    expect(text).toContain(`kubernetes: ${FROM} # pinned`);
    expect(withKubernetesVersion(text, TO, "c.yaml")).toBe(
      text.replace(`kubernetes: ${FROM}`, `kubernetes: ${TO}`),
    );
  });
  it("refuses a file that is not YAML, naming it", () => {
    expect(() => withKubernetesVersion("a: [\n", TO, "c.yaml")).toThrow(/c.yaml: not valid YAML/);
  });
});

describe("the scripts run on the hosts", () => {
  it("parse with a real sh -n", () => {
    for (const script of [VERSIONS_SCRIPT]) {
      const r = spawnSync("sh", ["-n", "-c", script], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    }
  });
  it("the version probe reports what each executable prints, `missing` for absent ones (real sh)", () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "kubelet"), "#!/bin/sh\necho 'Kubernetes v1.34.3'\n", { mode: 0o755 });
    const r = spawnSync(
      "sh",
      ["-c", VERSIONS_SCRIPT, "sh", "kubelet", join(bin, "kubelet"), "kube-proxy", join(bin, "kube-proxy")],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("kubelet\tKubernetes v1.34.3\nkube-proxy\tmissing\n");
  });
});
