/**
 * The guide, followed by hand on real hosts: `khw up` brings up the control plane and the load
 * balancer, then one worker is set up only with the commands `khw guide` prints for it — its
 * certificates and kubeconfigs (made with the guide's `kubectl config` commands) copied with scp, the
 * workers chapter's binaries, files, units and `systemctl` lines run over ssh. That worker must
 * register, become Ready and run a pod, and hold exactly the files `khw gen` renders for it.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBundle } from "@khw/bundle";
import { type Block, buildGuide, en, type Guide, sshCommand } from "@khw/cli";
import { acquireLabLock, findLeftovers, labDown } from "@khw/lab";
import { type Cluster, type ClusterNode, parseClusterYaml } from "@khw/spec";
import { labUnavailableReason } from "@khw/test-kit/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { khw, local, onHost, until } from "./_support";

const unavailable = labUnavailableReason();
if (unavailable && process.env["CI"])
  throw new Error(`the guide's lab test cannot run in CI: ${unavailable}`);

const workdir = mkdtempSync(join(tmpdir(), "khw-guide-e2e-"));
const home = join(workdir, "home");
let release: (() => void) | undefined;
let cluster: Cluster;
let guide: Guide;
let worker: ClusterNode;
let kubectlDir: string;
const log: string[] = [];

/** bash in the working directory, with ssh trusting only the lab's known_hosts (as a user's ~/.ssh/config would). */
async function sh(script: string, stdin?: string): Promise<string> {
  const { spawn } = await import("node:child_process");
  const token = readFileSync(join(workdir, "pki/bootstrap-token"), "utf8").trim().split(".");
  return new Promise((resolve, reject) => {
    const p = spawn("bash", ["--norc", "--noprofile", "-euo", "pipefail", "-c", script], {
      cwd: workdir,
      env: {
        PATH: `${join(home, "bin")}:${kubectlDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
        HOME: home,
        TOKEN_ID: token[0] ?? "",
        TOKEN_SECRET: token[1] ?? "",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.stderr.on("data", (d) => {
      err += d;
    });
    p.on("close", (code) => {
      log.push(`$ ${script.split("\n")[0]}… → ${code}`);
      if (code === 0) resolve(out);
      else
        reject(new Error(`exit ${code}: ${script.slice(0, 400)}\n${out.slice(-2000)}\n${err.slice(-3000)}`));
    });
    p.stdin.end(stdin ?? "");
  });
}

const code = (g: Guide, chapter: string) =>
  g.chapters
    .find((c) => c.id === chapter)!
    .blocks.filter((b): b is Extract<Block, { kind: "code" }> => b.kind === "code");

/** A chapter's blocks for one host, in order: copy from the admin machine (run here), then on the host (over ssh). */
async function followForHost(chapter: string, node: ClusterNode): Promise<number> {
  let n = 0;
  for (const b of code(guide, chapter)) {
    if (b.caption?.includes(`copy ${node.name}'s files`)) {
      await sh(b.text);
      n++;
    } else if (b.caption?.startsWith(`on ${node.name}, as root`)) {
      await sh(`${sshCommand(node)} bash --norc --noprofile -euo pipefail -s`, b.text);
      n++;
    }
  }
  return n;
}

describe.skipIf(unavailable !== undefined)("the guide's manual commands for one worker, on the lab", () => {
  beforeAll(async () => {
    release = await acquireLabLock({ purpose: "guide e2e", waitForNetwork: true, timeoutSeconds: 2400 });
    const bundle = await buildBundle({ kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" });
    kubectlDir = join(bundle.dir, "dl.k8s.io/release/v1.34.4/bin/linux/amd64");
    const lab = await khw(workdir, ["lab", "up", "--mirror-dir", bundle.dir]);
    expect(lab.code, lab.stderr).toBe(0);
    cluster = parseClusterYaml(readFileSync(join(workdir, "cluster.yaml"), "utf8")).cluster;
    guide = buildGuide(cluster, en);
    worker = cluster.workers.find((w) => w.kubeletCredentials === "certificate")!;
    // ssh reads ~/.ssh/config from the passwd home, not $HOME: wrappers in PATH add the config a
    // user would have (trust only the lab's known_hosts), the way ~/.ssh/config would.
    mkdirSync(join(home, "bin"), { recursive: true, mode: 0o700 });
    const config = join(home, "ssh_config");
    writeFileSync(
      config,
      `Host *\n  UserKnownHostsFile ${join(workdir, cluster.spec.ssh.knownHostsFile)}\n  StrictHostKeyChecking yes\n  BatchMode yes\n`,
      { mode: 0o600 },
    );
    for (const tool of ["ssh", "scp"])
      writeFileSync(join(home, "bin", tool), `#!/bin/sh\nexec /usr/bin/${tool} -F ${config} "$@"\n`, {
        mode: 0o755,
      });
    // khw does the control plane, the load balancer and the admin kubeconfig; no worker is touched by `workers`.
    const up = await khw(workdir, [
      "up",
      "--only",
      "preflight,pki,kubeconfigs,encryption,etcd,control-plane,loadbalancer,admin",
    ]);
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
  });

  afterAll(async () => {
    try {
      const down = await labDown({ workdir });
      expect(await findLeftovers(down.labName)).toEqual([]);
    } finally {
      release?.();
      rmSync(workdir, { recursive: true, force: true });
      console.log(`guide e2e: ${log.join("\n")}`);
    }
  });

  it("by hand: certificates and kubeconfigs copied with scp, the worker installed and started over ssh", async () => {
    expect(await followForHost("certificate-authority", worker)).toBe(2);
    // The kubeconfigs, written with the guide's kubectl config commands (the bundle's kubectl).
    for (const b of code(guide, "kubeconfigs").filter(
      (x) => !x.caption && /kubectl config|mkdir/.test(x.text),
    ))
      await sh(b.text);
    expect(await followForHost("kubeconfigs", worker)).toBe(2);
    // The pod network's objects (Flannel's DaemonSet writes the worker's CNI config; without it no node
    // is Ready), applied by hand on the first control plane as the pod-network chapter says.
    if (cluster.spec.addons.podNetwork === "flannel")
      expect(await followForHost("pod-network", cluster.controlPlanes[0]!)).toBeGreaterThan(0);
    expect(await followForHost("workers", worker)).toBe(1);
  });

  it(`the worker registers, becomes Ready and runs a pod`, async () => {
    const kubectl = (...args: string[]) =>
      local(join(kubectlDir, "kubectl"), ["--kubeconfig", join(workdir, "admin.kubeconfig"), ...args]);
    await until(
      `${worker.name} Ready`,
      async () => {
        const r = await kubectl(
          "get",
          "node",
          worker.name,
          "-o",
          "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        );
        return r.stdout.trim() === "True" ? true : undefined;
      },
      180,
    );
    const ip = await kubectl(
      "get",
      "node",
      worker.name,
      "-o",
      "jsonpath={.status.addresses[?(@.type=='InternalIP')].address}",
    );
    expect(ip.stdout.trim()).toBe(worker.address);
    const busybox = (cluster.spec.binaries.images ?? []).find((i) => i.ref.includes("busybox"));
    expect(busybox, "the lab's busybox image").toBeDefined();
    const run = await kubectl(
      "run",
      "guide-by-hand",
      `--image=${busybox!.ref}`,
      "--image-pull-policy=Never",
      "--restart=Never",
      `--overrides={"apiVersion":"v1","spec":{"nodeName":"${worker.name}"}}`,
      // The lab's busybox is a small multi-call stand-in (sleep, nslookup, hostname, true).
      "--",
      "true",
    );
    expect(run.code, run.stderr).toBe(0);
    const phase = await until(
      "the pod to finish",
      async () => {
        const r = await kubectl("get", "pod", "guide-by-hand", "-o", "jsonpath={.status.phase}");
        return ["Succeeded", "Failed"].includes(r.stdout.trim()) ? r.stdout.trim() : undefined;
      },
      180,
    ).catch(async (e) => {
      const d = await kubectl("describe", "pod", "guide-by-hand");
      const j = await onHost(
        workdir,
        worker.name,
        "journalctl -u kubelet -u containerd --no-pager | tail -40",
        true,
      );
      throw new Error(`${(e as Error).message}\n${d.stdout}\n${j.stdout}`);
    });
    expect(phase).toBe("Succeeded");
  });

  it("the hand-made worker holds exactly khw's files: same bytes and modes (kubeconfigs: the same config)", async () => {
    const gen = await khw(workdir, ["gen", "-o", "out"]);
    expect(gen.code, gen.stderr).toBe(0);
    const root = join(workdir, "out", worker.name);
    const files = walk(root).map((f) => f.slice(root.length));
    expect(files.length).toBeGreaterThan(10);
    const r = await onHost(
      workdir,
      worker.name,
      `cd / && for f in ${files.map((f) => `'${f}'`).join(" ")}; do printf '%s %s ' "$(stat -c %a "$f")" "$f"; sha256sum < "$f" | cut -d' ' -f1; done`,
    );
    const remote = new Map(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .map(([mode, path, sum]) => [path!, { mode: mode!, sum: sum! }]),
    );
    for (const f of files) {
      const bytes = readFileSync(join(root, f));
      const mode = (statSync(join(root, f)).mode & 0o777).toString(8);
      if (f.endsWith("kubeconfig")) {
        // Written by kubectl config, not byte-equal to khw's rendering: compare what kubectl reads.
        const got = await onHost(workdir, worker.name, `cat '${f}'`);
        const mine = join(workdir, "remote.kubeconfig");
        writeFileSync(mine, got.stdout);
        const view = async (file: string) =>
          (
            await local(join(kubectlDir, "kubectl"), [
              "config",
              "view",
              "--raw",
              "-o",
              "json",
              "--kubeconfig",
              file,
            ])
          ).stdout;
        expect({ f, view: await view(mine) }).toEqual({ f, view: await view(join(root, f)) });
        expect(remote.get(f)?.mode, f).toBe(mode);
        continue;
      }
      expect({ f, ...remote.get(f) }).toEqual({
        f,
        mode,
        sum: createHash("sha256").update(bytes).digest("hex"),
      });
    }
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}
