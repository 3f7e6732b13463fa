// Control planes added (`khw up` with one more in cluster.yaml) and removed (`khw node remove <cp>`) on
// systemd-like fake hosts: the order of every command (member add before the new etcd starts, joining
// as `existing`; old apiservers one at a time, out of HAProxy's rotation while they restart; etcd never
// restarted; HAProxy reloaded last), the files the hosts end up with, a run stopped midway resuming, and
// every recorded script through a real `sh -n`. The lab proves the same on real hosts
// (e2e/test/lifecycle-control-plane.e2e.test.ts).
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CommandOp } from "@khw/remote-exec";
import { type Cluster, defaultClusterSpecInput, loadCluster, renderClusterYaml } from "@khw/spec";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ETCD_UNIT_PATH,
  LB_SERVER_STATE_SCRIPT,
  LB_STATS_SCRIPT,
  MEMBER_ADD_SCRIPT,
  MEMBER_REMOVE_SCRIPT,
  MEMBERS_HEALTHY_SCRIPT,
} from "../src/day2/membership";
import { ETCD_MEMBERS_SCRIPT } from "../src/day2/node-membership";
import { setConfirmForTests } from "../src/day2/reset";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { FakeHosts, makeFakeBundle } from "./golden/fake-hosts";
import { fixedSeams } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
let hosts: FakeHosts;
let env: Record<string, string>;
let two: Cluster;
let three: Cluster;

const M3 = { name: "master-3", role: "controlplane" as const, address: "192.168.56.13" };

function clusterOf(cps: number): Cluster {
  const input = defaultClusterSpecInput();
  input.binaries = { source: "bundle", bundleDir: "bundle", arch: "amd64" };
  const nodes = cps === 3 ? [...input.nodes.slice(0, 2), M3, ...input.nodes.slice(2)] : input.nodes;
  return loadCluster({ ...input, nodes }).cluster;
}
const writeSpec = (c: Cluster) => writeFileSync(join(dir, "cluster.yaml"), renderClusterYaml(c.spec));

const text = (op: CommandOp) => (op.kind === "shell" ? op.script : op.argv.join(" "));
const commands = () =>
  hosts.recorder.ops.filter((o): o is CommandOp => o.kind === "exec" || o.kind === "shell");
/** Index of the first command matching, -1 when none. */
const at = (host: string, match: RegExp | string, from = 0) =>
  commands().findIndex(
    (o, i) =>
      i >= from &&
      o.host === host &&
      (typeof match === "string" ? text(o) === match || text(o).includes(match) : match.test(text(o))),
  );
const statsCsv = (servers: string[]) =>
  `# pxname,svname,qcur,status,check_status\n${servers.map((s) => `kubernetes-control-planes,${s},0,UP,L7OK`).join("\n")}\n`;

/** etcd's answers for `members` (name list), and the load balancer's admin socket. */
function scriptEtcd(members: string[], addresses: Record<string, string>) {
  const r = hosts.recorder;
  r.respondFirst(
    (op) => op.kind === "shell" && op.script === ETCD_MEMBERS_SCRIPT,
    () => ({
      stdout: members.map((m) => `member\t${m}\thttps://${addresses[m]}:2380\n`).join(""),
    }),
  )
    .respondFirst(
      (op) => op.kind === "shell" && op.script === MEMBER_ADD_SCRIPT,
      (op) => ({
        stdout: `changed: member add ${op.kind === "shell" ? op.args[0] : ""}\n`,
      }),
    )
    .respondFirst(
      (op) => op.kind === "shell" && op.script === MEMBER_REMOVE_SCRIPT,
      (op) => ({
        stdout: `changed: member remove ${op.kind === "shell" ? op.args[0] : ""} (8e9e05c52164694d)\n`,
      }),
    )
    .respondFirst(
      (op) => op.kind === "shell" && op.script === MEMBERS_HEALTHY_SCRIPT,
      (op) => {
        const n = op.kind === "shell" ? op.args[0] : "";
        return { stdout: `started=${n} healthy=${n} of ${n}\n` };
      },
    )
    .respondFirst((op) => op.kind === "shell" && op.script === LB_SERVER_STATE_SCRIPT, { stdout: "\n" })
    .respondFirst(
      (op) => op.kind === "shell" && op.script === LB_STATS_SCRIPT,
      () => ({
        stdout: statsCsv(["master-1", "master-2", "master-3"]),
      }),
    )
    .respondFirst((op) => text(op) === "systemctl reload-or-restart haproxy", {});
}

function expectScriptsParse() {
  for (const op of commands()) {
    if (op.kind !== "shell") continue;
    const r = spawnSync("sh", ["-n", "-c", op.script], { encoding: "utf8" });
    expect(r.status, `sh -n failed for:\n${op.script}\n${r.stderr}`).toBe(0);
  }
}

const sans = (pem: string) => new X509Certificate(pem).subjectAltName ?? "";

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  env = { XDG_CACHE_HOME: join(dir, "cache"), HOME: dir };
  two = clusterOf(2);
  three = clusterOf(3);
  makeFakeBundle(three, join(dir, "bundle"));
  setSeamsForTests({ ...fixedSeams(), executor: () => hosts, sleep: async () => {} });
});
afterEach(() => {
  resetSeamsForTests();
  setConfirmForTests(undefined);
  cleanup();
});

const addresses = Object.fromEntries(clusterOf(3).nodes.map((n) => [n.name, n.address]));

describe("adding a control plane: master-3 in cluster.yaml, then khw up", () => {
  beforeEach(async () => {
    writeSpec(two);
    hosts = new FakeHosts(three).readiness();
    const first = await khw(dir, ["up"], env);
    expect(first.code, first.stderr).toBe(0);
    writeSpec(three);
  });

  it("--dry-run prints every step and changes nothing (not even pki/)", async () => {
    scriptEtcd(["master-1", "master-2"], addresses);
    const pki = readFileSync(join(dir, "pki/kube-apiserver.crt"), "utf8");
    const from = hosts.recorder.ops.length;
    const r = await khw(dir, ["up", "--dry-run"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("dry run: the spec adds control plane(s) master-3");
    expect(r.stdout).toContain(
      "2. master-1: etcdctl member add master-3 --peer-urls=https://192.168.56.13:2380",
    );
    expect(r.stdout).toContain("--initial-cluster-state=existing");
    expect(r.stdout).toContain("SAN IP 192.168.56.13 (master-3) added");
    expect(r.stdout).toContain(
      "5. master-1: out of loadbalancer's rotation; new certificates and units, kube-apiserver --etcd-servers=https://192.168.56.11:2379,https://192.168.56.12:2379,https://192.168.56.13:2379 restarted, wait /readyz; back in rotation",
    );
    expect(r.stdout).toContain("8. loadbalancer: HAProxy backends master-1, master-2, master-3, reload");
    expect(hosts.changesSince(from)).toEqual([]);
    expect(readFileSync(join(dir, "pki/kube-apiserver.crt"), "utf8")).toBe(pki);
    const j = await khw(dir, ["up", "--dry-run", "--json"], env);
    const plan = JSON.parse(j.stdout.trim().split("\n")[0]!);
    expect(plan).toMatchObject({ type: "membership-plan", added: ["master-3"] });
    expect(plan.steps).toHaveLength(8);
  });

  it("member add first, master-3 joins as `existing`, old apiservers one at a time out of rotation, etcd never restarted, HAProxy last; then converged", async () => {
    scriptEtcd(["master-1", "master-2"], addresses);
    const from = commands().length;
    const r = await khw(dir, ["up", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const said = r.stdout
      .split("\n")
      .filter((l) => l.startsWith('{"type":"membership"'))
      .map((l) => JSON.parse(l).message as string);
    expect(said.at(-1)).toBe("control plane master-3 added (8 step(s))");
    const i = (host: string, m: RegExp | string) => at(host, m, from);
    const add = i("master-1", MEMBER_ADD_SCRIPT);
    const startEtcd3 = i("master-3", /systemctl restart --no-block etcd/);
    expect(add).toBeGreaterThan(0);
    expect(startEtcd3).toBeGreaterThan(add);
    // the unit master-3's etcd started with said `existing`; the one it keeps is khw's usual (`new`: ignored once joined)
    const unitUploads = hosts.recorder.ops.filter(
      (o) => o.kind === "upload" && o.host === "master-3" && o.path === ETCD_UNIT_PATH && o.changed,
    );
    expect(unitUploads).toHaveLength(2);
    const unit = hosts.recorder.file("master-3", ETCD_UNIT_PATH)!.content.toString();
    expect(unit).toContain("--initial-cluster-state=new");
    expect(unit).toContain("master-3=https://192.168.56.13:2380");
    const healthy = i("master-1", MEMBERS_HEALTHY_SCRIPT);
    expect(healthy).toBeGreaterThan(startEtcd3);
    // master-1, then master-2: out of rotation, apiserver restarted, /readyz, back in rotation
    const seq = [
      i("loadbalancer", /state \$3/),
      i("master-1", /systemctl restart kube-apiserver/),
      i("master-1", /get --raw \/readyz/),
      at("loadbalancer", LB_SERVER_STATE_SCRIPT, i("master-1", /systemctl restart kube-apiserver/)),
      i("master-2", /systemctl restart kube-apiserver/),
      i("master-3", /systemctl (re)?start kube-apiserver/),
      i("loadbalancer", "systemctl reload-or-restart haproxy"),
    ];
    expect(
      seq.every((n) => n > healthy),
      seq.join(","),
    ).toBe(true);
    expect([...seq].sort((a, b) => a - b)).toEqual(seq);
    const lbStates = commands()
      .slice(from)
      .filter((o) => o.kind === "shell" && o.script === LB_SERVER_STATE_SCRIPT)
      .map((o) => (o.kind === "shell" ? o.args.slice(1).join(" ") : ""));
    expect(lbStates).toEqual(["master-1 maint", "master-1 ready", "master-2 maint", "master-2 ready"]);
    // etcd on the old members: never restarted (certificates reloaded per handshake)
    for (const m of ["master-1", "master-2"]) expect(i(m, /systemctl restart.* etcd$/)).toBe(-1);
    // what the hosts have now
    for (const m of ["master-1", "master-2", "master-3"]) {
      const apiserver = hosts.recorder
        .file(m, "/etc/systemd/system/kube-apiserver.service")!
        .content.toString();
      expect(apiserver).toContain(
        "--etcd-servers=https://192.168.56.11:2379,https://192.168.56.12:2379,https://192.168.56.13:2379",
      );
      expect(sans(hosts.recorder.file(m, "/etc/etcd/etcd-server.crt")!.content.toString())).toContain(
        "IP Address:192.168.56.13",
      );
    }
    const cfg = hosts.recorder.file("loadbalancer", "/etc/haproxy/haproxy.cfg")!.content.toString();
    expect(cfg).toMatch(/server master-3 192\.168\.56\.13:6443/);
    expect(existsSync(join(dir, ".khw/membership.json"))).toBe(false);
    expectScriptsParse();

    scriptEtcd(["master-1", "master-2", "master-3"], addresses);
    const again = await khw(dir, ["up"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("converged: no changes");
  });

  it("a run that fails at master-2's restart resumes there: member add is not repeated", async () => {
    scriptEtcd(["master-1", "master-2"], addresses);
    hosts.failWhen = (op) => op.host === "master-2" && /systemctl restart kube-apiserver/.test(op.text);
    const r = await khw(dir, ["up"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[control-plane] master-2");
    const record = JSON.parse(readFileSync(join(dir, ".khw/membership.json"), "utf8"));
    expect(record).toMatchObject({ change: "add", member: "master-3" });
    expect(record.done).toEqual([
      "reissue-certificates",
      "etcd-member-add master-3",
      "etcd-start-member master-3",
      "etcd-wait-healthy master-1,master-2,master-3",
      "restart-apiserver master-1",
    ]);
    const again = await khw(dir, ["up"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("resuming the addition of master-3: 5 step(s) done by an earlier run");
    expect(again.stdout).toContain(
      "master-1: etcdctl member add master-3 --peer-urls=https://192.168.56.13:2380: done by an earlier run",
    );
    expect(commands().filter((o) => o.kind === "shell" && o.script === MEMBER_ADD_SCRIPT)).toHaveLength(1);
    expect(existsSync(join(dir, ".khw/membership.json"))).toBe(false);
  });

  it("--only/--skip with an addition pending is refused: it runs as a whole", async () => {
    scriptEtcd(["master-1", "master-2"], addresses);
    const from = hosts.recorder.ops.length;
    const r = await khw(dir, ["up", "--only", "pki"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("an addition runs as a whole, never a part of it (--only/--skip)");
    expect(hosts.changesSince(from)).toEqual([]);
  });

  it("a control plane dropped from the spec is refused by khw up, with the command that removes it", async () => {
    writeSpec(two);
    scriptEtcd(["master-1", "master-2", "master-3"], addresses);
    const r = await khw(dir, ["up"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "drops master-3 (still etcd members): khw up adds control planes; it does not remove them",
    );
    expect(r.stderr).toContain("khw node remove master-3 --yes --update-spec");
  });
});

/** etcdctl's `endpoint status` of the member at `ip` times out, as for a member that is down. */
function etcdEndpointDown(ip: string): void {
  hosts.recorder.respondFirst(
    (op) =>
      op.kind === "exec" &&
      op.argv[0] === "/usr/local/bin/etcdctl" &&
      op.argv.includes("status") &&
      op.argv.some((a) => a.includes(ip)),
    {
      code: 1,
      stderr: `Failed to get the status of endpoint https://${ip}:2379 (context deadline exceeded)\n`,
    },
  );
}

describe("removing a control plane: khw node remove master-3", () => {
  beforeEach(async () => {
    writeSpec(three);
    hosts = new FakeHosts(three).readiness();
    const first = await khw(dir, ["up"], env);
    expect(first.code, first.stderr).toBe(0);
    scriptEtcd(["master-1", "master-2", "master-3"], addresses);
    const ids: Record<string, number> = { "master-1": 11, "master-2": 12, "master-3": 13 };
    const etcdctl = (op: CommandOp, ...w: string[]) =>
      op.kind === "exec" && op.argv[0] === "/usr/local/bin/etcdctl" && w.every((x) => op.argv.includes(x));
    const url = (op: CommandOp) =>
      (op.kind === "exec" ? op.argv : []).find((a) => a.startsWith("--endpoints="))!.slice(12);
    const byUrl = (u: string) => Object.keys(ids).find((m) => u.includes(addresses[m]!))!;
    hosts.recorder
      .respondFirst(
        (op) => etcdctl(op, "endpoint", "status"),
        (op) => ({
          stdout: `[{"Endpoint":"${url(op)}","Status":{"header":{"cluster_id":15118495548433857066,"member_id":${ids[byUrl(url(op))]},"revision":42,"raft_term":3},"version":"3.6.16","dbSize":2097152,"leader":11,"raftIndex":99,"raftTerm":3,"raftAppliedIndex":99,"dbSizeInUse":1048576}}]\n`,
        }),
      )
      .respondFirst(
        (op) => etcdctl(op, "endpoint", "health"),
        (op) => ({
          stdout: `[${url(op)
            .split(",")
            .map((u) => `{"endpoint":"${u}","health":true,"took":"3ms"}`)
            .join(",")}]\n`,
        }),
      )
      .respondFirst(
        (op) => etcdctl(op, "member", "list"),
        () => ({
          stdout: `{"members":[${Object.entries(ids)
            .map(([m, id]) => `{"ID":${id},"name":"${m}","peerURLs":["https://${addresses[m]}:2380"]}`)
            .join(",")}]}\n`,
        }),
      )
      .respondFirst((op) => /systemctl (disable|reset-failed|stop)|^rm -rf|for s in/.test(text(op)), {})
      .respondFirst((op) => / delete node master-3 --ignore-not-found/.test(text(op)), {
        stdout: 'node "master-3" deleted\n',
      });
  });

  it("--dry-run prints the steps; the run: HAProxy first, control plane stopped, member remove, apiservers one by one, host reset, spec edited", async () => {
    const dry = await khw(dir, ["node", "remove", "master-3", "--dry-run"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("[node] 3. master-1: etcdctl member remove <id of master-3>");
    const from = commands().length;
    const r = await khw(dir, ["node", "remove", "master-3", "--yes", "--update-spec"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("pki: re-issued etcd-server");
    const i = (host: string, m: RegExp | string) => at(host, m, from);
    const seq = [
      i("loadbalancer", "systemctl reload-or-restart haproxy"),
      i("master-3", /for s in/),
      i("master-1", MEMBER_REMOVE_SCRIPT),
      i("master-1", /systemctl restart kube-apiserver/),
      i("master-2", /systemctl restart kube-apiserver/),
      i("master-3", /systemctl disable --now etcd/),
      i("master-1", /delete node master-3/),
    ];
    expect(
      seq.every((n) => n >= from),
      seq.join(","),
    ).toBe(true);
    expect([...seq].sort((a, b) => a - b)).toEqual(seq);
    const rm = commands().find((o) => o.host === "master-3" && o.kind === "exec" && o.argv[0] === "rm")!;
    expect(text(rm)).toContain("/var/lib/etcd");
    const cfg = hosts.recorder.file("loadbalancer", "/etc/haproxy/haproxy.cfg")!.content.toString();
    expect(cfg).not.toContain("master-3");
    const apiserver = hosts.recorder
      .file("master-1", "/etc/systemd/system/kube-apiserver.service")!
      .content.toString();
    expect(apiserver).toContain("--etcd-servers=https://192.168.56.11:2379,https://192.168.56.12:2379 ");
    expect(
      sans(hosts.recorder.file("master-2", "/etc/etcd/etcd-server.crt")!.content.toString()),
    ).not.toContain("192.168.56.13");
    for (const m of ["master-1", "master-2"]) expect(i(m, /systemctl restart.* etcd$/)).toBe(-1);
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).not.toContain("master-3");
    expectScriptsParse();
  });

  it("a removal that fails at master-2's restart resumes there (khw up refuses meanwhile); member remove is not repeated", async () => {
    hosts.failWhen = (op) => op.host === "master-2" && /systemctl restart kube-apiserver/.test(op.text);
    const r = await khw(dir, ["node", "remove", "master-3", "--yes", "--update-spec"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[control-plane] master-2");
    const record = JSON.parse(readFileSync(join(dir, ".khw/membership.json"), "utf8"));
    expect(record).toMatchObject({ change: "remove", member: "master-3" });
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).toContain("master-3");
    const up = await khw(dir, ["up"], env);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("the removal of control plane master-3 is unfinished");
    expect(up.stderr).toContain("khw node remove master-3 --yes (it resumes)");
    const again = await khw(dir, ["node", "remove", "master-3", "--yes", "--update-spec"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("resuming the removal of master-3: 5 step(s) done by an earlier run");
    expect(commands().filter((o) => o.kind === "shell" && o.script === MEMBER_REMOVE_SCRIPT)).toHaveLength(1);
    expect(existsSync(join(dir, ".khw/membership.json"))).toBe(false);
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).not.toContain("master-3");
  });

  it("master-3's host lost: refused without --unreachable (nothing changed); with it, every step but those on master-3", async () => {
    hosts.down.add("master-3");
    etcdEndpointDown("192.168.56.13");
    const from = hosts.recorder.ops.length;
    const refused = await khw(dir, ["node", "remove", "master-3", "--yes", "--update-spec"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("master-3: its host does not answer over SSH");
    expect(refused.stderr).toContain("khw node remove master-3 --unreachable");
    // the refusal came from asking master-3 itself (its one attempt, `true`, refused)
    expect(hosts.triedWhileDown).toEqual([{ kind: "exec", host: "master-3", text: "true" }]);
    expect(hosts.changesSince(from)).toEqual([]);
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).toContain("master-3");

    const dry = await khw(dir, ["node", "remove", "master-3", "--unreachable", "--dry-run"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).not.toMatch(/master-3: (stop|khw reset)/);
    expect(dry.stderr).toContain("master-3's host is not touched");
    const tried = hosts.triedWhileDown.length;
    const start = commands().length;
    const r = await khw(dir, ["node", "remove", "master-3", "--unreachable", "--yes", "--update-spec"], env);
    expect(r.code, r.stderr).toBe(0);
    const i = (host: string, m: RegExp | string) => at(host, m, start);
    const seq = [
      i("loadbalancer", "systemctl reload-or-restart haproxy"),
      i("master-1", MEMBER_REMOVE_SCRIPT),
      i("master-1", /systemctl restart kube-apiserver/),
      i("master-2", /systemctl restart kube-apiserver/),
      i("master-1", /delete node master-3/),
    ];
    expect(
      seq.every((n) => n >= start),
      seq.join(","),
    ).toBe(true);
    expect([...seq].sort((a, b) => a - b)).toEqual(seq);
    // nothing was even attempted on master-3 (its operations would fail: the run would not succeed)
    expect(hosts.triedWhileDown.slice(tried)).toEqual([]);
    const apiserver = hosts.recorder
      .file("master-1", "/etc/systemd/system/kube-apiserver.service")!
      .content.toString();
    expect(apiserver).toContain("--etcd-servers=https://192.168.56.11:2379,https://192.168.56.12:2379 ");
    expect(hosts.recorder.file("loadbalancer", "/etc/haproxy/haproxy.cfg")!.content.toString()).not.toContain(
      "master-3",
    );
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).not.toContain("master-3");
  });

  it("refuses to go below quorum (master-2 down) and to remove the last control plane; no host changed", async () => {
    etcdEndpointDown("192.168.56.12");
    const from = hosts.recorder.ops.length;
    const r = await khw(dir, ["node", "remove", "master-3", "--yes"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "without master-3, etcd has 2 member(s) and needs 2 healthy, but only 1 (master-1) are",
    );
    expect(hosts.changesSince(from)).toEqual([]);
    const one = loadCluster({
      ...two.spec,
      nodes: two.spec.nodes.filter((n) => n.name !== "master-2"),
    }).cluster;
    writeSpec(one);
    const last = await khw(dir, ["node", "remove", "master-1", "--yes"], env);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain("without master-1 the spec is not valid");
    expect(last.stderr).toContain("no node has role controlplane");
  });
});
