/**
 * The real lab: systemd-nspawn hosts on a bridge, real sshd and systemd. Needs root, systemd-nspawn
 * and (for the first run, which builds the cached base root filesystem) mmdebstrap; skipped with a
 * printed reason otherwise. Everything it starts is removed in afterAll, also on failure.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseClusterYaml } from "@khw/spec";
import { labUnavailableReason } from "@khw/test-kit/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ipv4Addresses } from "../src/_system";
import {
  acquireLabLock,
  findLeftovers,
  type LabSpecInput,
  type LabUpResult,
  labDown,
  labExec,
  labSsh,
  labStartHost,
  labStatus,
  labStopHost,
  labUp,
  readLabState,
} from "../src/index";

/** Unique per run: parallel runs (turbo, other checkouts) never tear down each other's lab. */
const LAB = `t${process.pid.toString(36)}`;
const SPEC: LabSpecInput = {
  nodes: [
    { name: "master-1", role: "controlplane", address: "192.168.56.11" },
    { name: "worker-1", role: "worker", address: "192.168.56.21" },
    { name: "loadbalancer", role: "loadbalancer", address: "192.168.56.30" },
  ],
};

const reason = labUnavailableReason();
if (reason) console.warn(`[lab tests] SKIPPED: ${reason}`);

const workdir = mkdtempSync(join(tmpdir(), "khw-lab-test-"));
const bundle = join(workdir, "bundle");
const logs: string[] = [];
let up: LabUpResult;
let releaseLock = () => {};

function systemSsh(address: string, command: string) {
  return spawnSync(
    "ssh",
    [
      "-i",
      join(workdir, ".khw-lab", "id_ed25519"),
      "-o",
      `UserKnownHostsFile=${join(workdir, "known_hosts")}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      `root@${address}`,
      command,
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
}

/** No process, overlay mount, cgroup dir or bridge of the lab is left. */
async function expectNothingLeft() {
  expect(await findLeftovers(LAB)).toEqual([]);
  const nspawns = spawnSync("pgrep", ["-af", "systemd-nspawn"], { encoding: "utf8" }).stdout;
  expect(nspawns).not.toMatch(new RegExp(`${workdir}/.khw-lab/hosts`));
  expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(`khw-lab-${LAB}`);
  expect(existsSync(`/sys/fs/cgroup/systemd/khw-lab-${LAB}`)).toBe(false);
  expect(spawnSync("ip", ["link", "show", `khw-${LAB}`]).status).not.toBe(0);
  const links = spawnSync("ip", ["-br", "link"], { encoding: "utf8" }).stdout;
  for (const node of SPEC.nodes) expect(links).not.toContain(`vb-${node.name}`);
}

describe.skipIf(reason !== undefined)(
  reason ? `khw lab (SKIPPED: ${reason})` : "khw lab on this machine",
  () => {
    beforeAll(async () => {
      mkdirSync(join(bundle, "dl.k8s.io/release/v1.34.4/bin/linux/amd64"), { recursive: true });
      writeFileSync(
        join(bundle, "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubectl.sha256"),
        "abc123  kubectl\n",
      );
      releaseLock = await acquireLabLock({
        purpose: `lab tests ${workdir}`,
        waitForNetwork: true,
        onWait: (holder) => console.warn(`[lab tests] waiting for the lab network, in use by ${holder}`),
      });
      const holder = (await ipv4Addresses()).find((a) => a.address === "198.18.0.1");
      if (holder)
        throw new Error(`198.18.0.1 is held by ${holder.ifname} (a lab not using the lock?): khw lab down`);
      up = await labUp({ workdir, spec: SPEC, labName: LAB, mirrorDir: bundle, onLog: (l) => logs.push(l) });
    }, 1_200_000);

    afterAll(async () => {
      try {
        await labDown({ labName: LAB });
      } finally {
        releaseLock();
        rmSync(workdir, { recursive: true, force: true });
      }
    }, 120_000);

    it("boots one host per node, each answering SSH with its own name under strict host-key checking", () => {
      expect(up.hosts.map((h) => [h.name, h.address])).toEqual([
        ["master-1", "198.18.0.11"],
        ["worker-1", "198.18.0.21"],
        ["loadbalancer", "198.18.0.30"],
      ]);
      for (const host of up.hosts) {
        const r = systemSsh(host.address, "hostname");
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout.trim()).toBe(host.name);
      }
      const keyMode = spawnSync("stat", ["-c", "%a", up.keyFile], { encoding: "utf8" }).stdout.trim();
      expect(keyMode).toBe("600");
      console.log(
        `[lab tests] 3 hosts ready in ${up.timings.bootSeconds.toFixed(1)} s (total ${up.timings.totalSeconds.toFixed(1)} s)`,
      );
    }, 60_000);

    it("gives every host its own SSH host keys", () => {
      const keys = readFileSync(up.knownHostsFile, "utf8")
        .split("\n")
        .filter((l) => l.includes("ssh-ed25519"))
        .map((l) => l.split(" ")[2]);
      expect(keys).toHaveLength(3);
      expect(new Set(keys).size).toBe(3);
    });

    it("runs systemd as PID 1, in state running or degraded", async () => {
      for (const host of up.hosts) {
        const r = await labExec(
          { host: host.name, labName: LAB },
          "cat /proc/1/comm; timeout 30 systemctl is-system-running --wait",
        );
        const [comm, state] = r.stdout.trim().split("\n");
        expect(comm).toBe("systemd");
        expect(["running", "degraded"]).toContain(state);
      }
    }, 90_000);

    it("lets hosts reach each other by name over the bridge; the default route stays on the bridge's link (no gateway)", async () => {
      for (const from of up.hosts) {
        for (const to of up.hosts) {
          if (from === to) continue;
          const r = await labExec(
            { host: from.name, labName: LAB },
            `timeout 3 bash -c '</dev/tcp/${to.name}/22'`,
          );
          expect(r.code, `${from.name} → ${to.name}: ${r.stderr}`).toBe(0);
        }
      }
      // host-network pods need a default route (flanneld picks its interface from it), but nothing may
      // leave the lab: the route is on host0's own link, through no gateway
      const routes = await labExec({ host: "master-1", labName: LAB }, "ip route show default");
      expect(routes.stdout.trim()).toMatch(/^default dev host0 .*scope link/);
      expect(routes.stdout).not.toContain(" via ");
    }, 60_000);

    it("enables and starts a unit file pushed over SSH", async () => {
      const unit = [
        "[Unit]",
        "Description=khw lab test",
        "[Service]",
        "ExecStart=/usr/bin/socat TCP-LISTEN:7777,reuseaddr,fork SYSTEM:'echo hello-from-$(hostname)'",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
      ].join("\n");
      const push = await labExec(
        { host: "worker-1", labName: LAB },
        "cat > /etc/systemd/system/khw-test.service && systemctl daemon-reload && systemctl enable --now khw-test.service && systemctl is-enabled khw-test.service && systemctl is-active khw-test.service",
        { input: unit },
      );
      expect(push.code, push.stderr).toBe(0);
      expect(push.stdout).toContain("enabled\nactive");
      const call = await labExec(
        { host: "master-1", labName: LAB },
        "for i in $(seq 50); do socat -T2 - TCP:worker-1:7777 </dev/null 2>/dev/null && exit 0; sleep 0.1; done; exit 1",
      );
      expect(call.stdout.trim()).toBe("hello-from-worker-1");
    }, 60_000);

    it("serves the bundle directory from the mirror on the bridge", async () => {
      const path = "/dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubectl.sha256";
      const r = await labExec({ host: "worker-1", labName: LAB }, `curl -fsS ${up.mirrorUrl}${path}`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("abc123  kubectl\n");
      const missing = await labExec(
        { host: "worker-1", labName: LAB },
        `curl -s -o /dev/null -w '%{http_code}' ${up.mirrorUrl}/nope`,
      );
      expect(missing.stdout).toBe("404");
      const traversal = await labExec(
        { host: "worker-1", labName: LAB },
        `curl -s --path-as-is -o /dev/null -w '%{http_code}' ${up.mirrorUrl}/../../etc/passwd`,
      );
      expect(["403", "404"]).toContain(traversal.stdout);
    }, 30_000);

    it("keeps a running lab on a second labUp, re-pointing only the mirror; refuses the same lab from another workdir", async () => {
      const other = mkdtempSync(join(tmpdir(), "khw-lab-mirror-"));
      try {
        writeFileSync(join(other, "marker"), "second mirror\n");
        const again = await labUp({ workdir, spec: SPEC, labName: LAB, mirrorDir: other });
        expect(again.started).toBe(false);
        expect(again.hosts.map((h) => h.pid)).toEqual(up.hosts.map((h) => h.pid));
        const r = await labExec({ host: "worker-1", labName: LAB }, `curl -fsS ${up.mirrorUrl}/marker`);
        expect(r.stdout).toBe("second mirror\n");
        await labUp({ workdir, spec: SPEC, labName: LAB, mirrorDir: bundle });
        await expect(labUp({ workdir: other, spec: SPEC, labName: LAB })).rejects.toMatchObject({
          code: "LAB_CONFLICT",
        });
        expect((await labStatus({ labName: LAB })).state).toBe("running");
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    }, 60_000);

    it("writes cluster.yaml pointing at the lab and refuses to overwrite a different one", async () => {
      const { spec } = parseClusterYaml(readFileSync(join(workdir, "cluster.yaml"), "utf8"));
      expect(spec.nodes.map((n) => `${n.name}@${n.ssh.host}:${n.ssh.port}`)).toEqual([
        "master-1@198.18.0.11:22",
        "worker-1@198.18.0.21:22",
        "loadbalancer@198.18.0.30:22",
      ]);
      expect(
        spec.nodes.every((n) => n.ssh.identityFile === ".khw-lab/id_ed25519" && n.ssh.user === "root"),
      ).toBe(true);
      expect(spec.ssh.hostKeyChecking).toBe("strict");
      expect(spec.binaries).toMatchObject({ source: "mirror", mirror: up.mirrorUrl });
      await expect(
        labUp({
          workdir,
          labName: LAB,
          spec: { nodes: [{ name: "solo", role: "controlplane", address: "192.168.56.11" }] },
        }),
      ).rejects.toMatchObject({ code: "LAB_CLUSTER_YAML_EXISTS" });
    });

    it("reports status, memory per host, and exit codes of commands run through labSsh", async () => {
      const status = await labStatus({ labName: LAB });
      expect(status.state).toBe("running");
      expect(status.mirror?.running).toBe(true);
      for (const h of status.hosts) {
        expect(h.sshReady).toBe(true);
        expect(h.memoryBytes).toBeGreaterThan(1_000_000);
      }
      console.log(
        `[lab tests] memory per idle host (PSS): ${status.hosts.map((h) => `${h.name} ${(h.memoryBytes / 1e6).toFixed(1)} MB`).join(", ")}`,
      );
      expect(await labSsh({ host: "loadbalancer", labName: LAB, argv: ["sh", "-c", "exit 7"] })).toBe(7);
      const quoted = await labExec({ host: "198.18.0.30", labName: LAB }, "printf '%s' \"$(hostname)\"");
      expect(quoted.stdout).toBe("loadbalancer");
    }, 30_000);

    it("labStopHost powers one host off (its disk stays); labStartHost boots it again with the same host keys", async () => {
      const before = await labExec(
        { host: "worker-1", labName: LAB },
        "cat /etc/ssh/ssh_host_ed25519_key.pub; touch /root/kept",
      );
      const stop = await labStopHost({ host: "worker-1", labName: LAB });
      expect(stop.changed).toBe(true);
      const status = await labStatus({ labName: LAB });
      expect(status.state).toBe("degraded");
      expect(status.hosts.find((h) => h.name === "worker-1")).toMatchObject({
        running: false,
        sshReady: false,
      });
      expect((await labStopHost({ host: "worker-1", labName: LAB })).changed).toBe(false);
      const start = await labStartHost({ host: "worker-1", labName: LAB });
      expect(start.changed).toBe(true);
      // strict host-key checking against the same known_hosts: the same keys, the same disk
      const after = await labExec(
        { host: "worker-1", labName: LAB },
        "cat /etc/ssh/ssh_host_ed25519_key.pub; ls /root/kept",
      );
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout).toBe(`${before.stdout}/root/kept\n`);
      expect((await labStatus({ labName: LAB })).state).toBe("running");
    }, 120_000);

    it("labDown of another lab name leaves this lab (in the same workdir) alone", async () => {
      const report = await labDown({ workdir, labName: "nosuch" });
      expect(report.hadState).toBe(false);
      expect(report.stoppedHosts).toEqual([]);
      expect((await labStatus({ workdir })).state).toBe("running");
      const r = await labExec({ host: "master-1", workdir }, "hostname");
      expect(r.stdout.trim()).toBe("master-1");
    }, 60_000);

    it("labDown leaves no process, overlay mount, cgroup dir, bridge or mirror", async () => {
      const mirrorPid = readLabState({ labName: LAB })?.mirror?.pid ?? 0;
      const report = await labDown({ workdir });
      expect(report.stoppedHosts.sort()).toEqual(["loadbalancer", "master-1", "worker-1"]);
      expect(report.killedProcesses).toBe(0);
      expect(report.mirrorStopped).toBe(true);
      expect(existsSync(`/proc/${mirrorPid}`)).toBe(false);
      await expectNothingLeft();
      expect((await labStatus({ labName: LAB })).state).toBe("stopped");
    }, 60_000);

    it("labDown counts every host it stopped, also those killed after the halt timeout", async () => {
      await labUp({ workdir, spec: SPEC, labName: LAB, mirrorDir: bundle });
      const report = await labDown({ workdir, stopTimeoutSeconds: 0 });
      expect(report.stoppedHosts.sort()).toEqual(["loadbalancer", "master-1", "worker-1"]);
      expect(report.killedHosts.length).toBeGreaterThan(0);
      await expectNothingLeft();
    }, 120_000);

    it("labDown cleans up after a crash: launchers killed with SIGKILL and the state deleted", async () => {
      const again = await labUp({ workdir, spec: SPEC, labName: LAB, mirrorDir: bundle });
      for (const h of again.hosts) process.kill(h.pid, "SIGKILL");
      rmSync(join(workdir, ".khw-lab", "state.json"));
      rmSync(`/run/khw-lab/${LAB}.json`);
      expect((await findLeftovers(LAB)).length).toBeGreaterThan(0);
      const report = await labDown({ labName: LAB });
      expect(report.hadState).toBe(false);
      expect(report.killedProcesses).toBeGreaterThan(0);
      await expectNothingLeft();
    }, 120_000);

    it("a failed labUp removes what it started", async () => {
      await expect(
        labUp({ workdir, spec: SPEC, labName: LAB, mirrorDir: bundle, readyTimeoutSeconds: 0.01 }),
      ).rejects.toMatchObject({ code: "LAB_HOST_NOT_READY" });
      await expectNothingLeft();
    }, 120_000);
  },
);
