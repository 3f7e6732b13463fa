import { spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { writeFileAtomicSync as writeFileAtomic } from "@khw/host-io";
import { run, runOk, sleep } from "./_exec";
import { FORWARD_SCRIPT } from "./_forward-script";
import { MIRROR_SCRIPT } from "./_mirror-script";
import { cgroupLayout, defaultCacheDir } from "./_paths";
import { cmdline, ipv4Addresses, isAlive, isMountPoint, linkExists, mounts, signal } from "./_system";
import { baseImagePaths, ensureBaseImage, LAB_VAGRANT_UID } from "./base-image";
import {
  defaultLabSpec,
  hasLabImages,
  type LabSpecInput,
  labImageRefs,
  renderLabClusterYaml,
} from "./cluster-yaml";
import { LabError } from "./errors";
import { hostLimitsError, raiseHostLimits, shortHostLimits } from "./host-limits";
import { labDown, NSPAWN_RUN_DIR, NSPAWN_TMPFS_TAG } from "./lab-down";
import { assertPrerequisites } from "./preflight";
import {
  DEFAULT_LAB_NAME,
  findLabState,
  type LabHostState,
  type LabState,
  labStateDir,
  writeLabState,
} from "./state";
import {
  assertLabName,
  LAB_GATEWAY,
  LAB_MIRROR_PORT,
  LAB_PREFIX_LENGTH,
  type LabHost,
  labHosts,
  labNames,
  renderEtcHosts,
  renderHost0Network,
} from "./topology";

export interface LabUpOptions {
  /** Where cluster.yaml, known_hosts and the lab state (`.khw-lab/`) go. */
  workdir: string;
  /** The cluster spec whose nodes become lab hosts (a parsed @khw/spec `ClusterSpec` fits); default: the 5-node Vagrant layout. */
  spec?: LabSpecInput;
  /** Overwrite a different existing `<workdir>/cluster.yaml`. */
  force?: boolean;
  /** Directory served by the lab mirror (official download layout); default: an empty `.khw-lab/mirror/`. */
  mirrorDir?: string;
  /** Lab name (bridge `khw-<name>`, cgroup `khw-lab-<name>`); default "khw". */
  labName?: string;
  /** Base image cache; default `${XDG_CACHE_HOME:-~/.cache}/khw/lab`. */
  cacheDir?: string;
  /** Seconds to wait for every host's sshd (default 60). */
  readyTimeoutSeconds?: number;
  /** Progress lines, prefixed with their step: `[base] …`, `[hosts] …`. */
  onLog?: (line: string) => void;
  /**
   * Raise the machine's inotify limits to what the lab needs instead of refusing to boot (they are the
   * machine's own kernel settings, so only on request).
   */
  raiseLimits?: boolean;
  /**
   * Reach the hosts the way Vagrant users reach their VMs: khw logs in as `vagrant` (passwordless sudo)
   * through a forwarded port per host on 127.0.0.1 (2700 + the address's last octet, as the Vagrantfile's
   * 2711–2730) with a per-machine key in `.vagrant/machines/<name>/virtualbox/private_key`.
   * (`khw lab ssh` keeps using root and the lab key on the bridge, to inspect hosts.)
   */
  asVagrant?: boolean;
}

export interface LabUpResult {
  labName: string;
  workdir: string;
  stateDir: string;
  hosts: Array<{ name: string; role: string; address: string; pid: number }>;
  keyFile: string;
  knownHostsFile: string;
  clusterYaml: string;
  mirrorUrl: string;
  /** False when a healthy lab with the same hosts was already running and was kept. */
  started: boolean;
  /** How cluster.yaml reaches the hosts: root on the bridge, or vagrant through 127.0.0.1 ports. */
  access: "root" | "vagrant";
  /** Limits raised by `raiseLimits` (sysctl=value (was …)). */
  limitsRaised: string[];
  timings: {
    /** mmdebstrap build in this call (0 when cached). */
    baseBuildSeconds: number;
    baseExtractSeconds: number;
    /** From launching the hosts until every sshd answered. */
    bootSeconds: number;
    totalSeconds: number;
  };
}

/** Brings the lab up: base image, bridge, one systemd-nspawn host per node, mirror, known_hosts, cluster.yaml. */
export async function labUp(options: LabUpOptions): Promise<LabUpResult> {
  const t0 = performance.now();
  const log = options.onLog ?? (() => {});
  const labName = options.labName ?? DEFAULT_LAB_NAME;
  assertLabName(labName);
  const workdir = resolve(options.workdir);
  const stateDir = labStateDir(workdir);
  const spec = options.spec ?? defaultLabSpec();
  const hosts = labHosts(spec);
  const names = labNames(labName);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  assertPrerequisites({ needBaseBuild: !existsSync(baseImagePaths(cacheDir).tarball) });

  const keyFile = join(stateDir, "id_ed25519");
  const knownHostsFile = join(workdir, "known_hosts");
  const clusterYaml = join(workdir, "cluster.yaml");
  const mirrorUrl = `http://${LAB_GATEWAY}:${LAB_MIRROR_PORT}`;
  const servedDir = resolve(options.mirrorDir ?? join(stateDir, "mirror"));
  const asVagrant = options.asVagrant ?? false;
  const access = asVagrant ? vagrantAccess(workdir, hosts) : undefined;
  const yamlText = renderLabClusterYaml(spec, {
    hosts,
    identityFile: ".khw-lab/id_ed25519",
    knownHostsFile: "known_hosts",
    ...(access ? { ssh: access.ssh } : {}),
    mirrorUrl,
    ...(hasLabImages(servedDir) ? { images: labImageRefs() } : {}),
  });
  const imageList = hasLabImages(servedDir)
    ? labImageRefs()
        .map((i) => `${mirrorUrl}/${i.path} ${i.ref}\n`)
        .join("")
    : "";
  if (existsSync(clusterYaml) && !options.force && readFileSync(clusterYaml, "utf8") !== yamlText) {
    throw new LabError("LAB_CLUSTER_YAML_EXISTS", `${clusterYaml} exists and describes other hosts.`, {
      step: "spec",
      hint: "move it away, run in another directory, or pass --force to overwrite it with the lab's",
    });
  }

  const previous = findLabState({ workdir, labName });
  if (previous && previous.workdir !== workdir && previous.hosts.some((h) => h.pid > 0 && isAlive(h.pid))) {
    throw new LabError("LAB_CONFLICT", `lab "${labName}" is running from ${previous.workdir}.`, {
      step: "up",
      hint: `run \`khw lab down\` in ${previous.workdir} first (one lab at a time uses the lab network)`,
    });
  }
  // This lab already running with the same hosts: keep it (re-pointing the mirror if asked to).
  const wantedMirrorDir = resolve(options.mirrorDir ?? join(stateDir, "mirror"));
  if (
    previous &&
    sameHosts(previous, hosts) &&
    (previous.asVagrant ?? false) === asVagrant &&
    previous.hosts.every((h) => isAlive(h.pid))
  ) {
    log(`[up] lab "${labName}" is already running`);
    if (previous.mirror?.dir !== wantedMirrorDir || !isAlive(previous.mirror.pid)) {
      if (previous.mirror && isAlive(previous.mirror.pid)) await stopProcess(previous.mirror.pid);
      if (options.mirrorDir === undefined) mkdirSync(wantedMirrorDir, { recursive: true });
      previous.mirror = {
        pid: await startMirror(previous, wantedMirrorDir),
        url: mirrorUrl,
        dir: wantedMirrorDir,
      };
      writeLabState(previous);
      log(`[mirror] ${mirrorUrl} serves ${wantedMirrorDir}`);
    }
    writeFileAtomic(clusterYaml, yamlText);
    return result(previous, false, { baseBuildSeconds: 0, baseExtractSeconds: 0, bootSeconds: 0 }, t0, []);
  }
  if (previous || (await linkExists(names.bridge))) {
    log(`[up] removing what a previous run of lab "${labName}" left`);
    await labDown({ workdir, labName, onLog: log });
  }
  const holder = (await ipv4Addresses()).find((a) => a.address === LAB_GATEWAY);
  if (holder) {
    throw new LabError("LAB_CONFLICT", `${LAB_GATEWAY} is already on interface ${holder.ifname}.`, {
      step: "network",
      hint: `another lab uses the lab network: stop it (khw lab down --name ${holder.ifname.replace(/^khw-/, "")}) or remove ${holder.ifname}`,
    });
  }

  // The machine's kernel limits every host shares: checked before anything boots.
  const short = shortHostLimits(hosts.map((h) => h.role));
  let limitsRaised: string[] = [];
  if (short.length > 0 && !options.raiseLimits) throw hostLimitsError(short, hosts.length);
  if (short.length > 0) {
    limitsRaised = raiseHostLimits(short);
    log(`[preflight] raised ${limitsRaised.join(", ")}`);
  }

  const base = await ensureBaseImage({ cacheDir, onLog: log });
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  if (!existsSync(keyFile)) {
    await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `khw-lab-${labName}`, "-f", keyFile]);
    log(`[ssh] generated the lab key ${keyFile}`);
  }
  chmodSync(keyFile, 0o600);
  const publicKey = readFileSync(`${keyFile}.pub`, "utf8");

  const layout = cgroupLayout();
  const state: LabState = {
    version: 1,
    labName,
    workdir,
    stateDir,
    bridge: names.bridge,
    gateway: LAB_GATEWAY,
    cgroups: layout.roots.map((r) => join(r, names.cgroup)),
    mountTag: names.mountTag,
    nspawnTmpfs: false,
    baseRootfs: base.rootfs,
    keyFile,
    knownHostsFile,
    clusterYaml,
    hosts: hosts.map((h) => ({
      ...h,
      pid: 0,
      dir: join(stateDir, "hosts", h.name),
      root: join(stateDir, "hosts", h.name, "root"),
    })),
    startedAt: new Date().toISOString(),
    ...(asVagrant ? { asVagrant: true } : {}),
  };
  writeLabState(state);

  try {
    await step("network", async () => {
      await runOk("ip", ["link", "add", "name", names.bridge, "type", "bridge"]);
      await runOk("ip", ["addr", "add", `${LAB_GATEWAY}/${LAB_PREFIX_LENGTH}`, "dev", names.bridge]);
      await runOk("ip", ["link", "set", names.bridge, "up"]);
      log(`[network] bridge ${names.bridge} ${LAB_GATEWAY}/${LAB_PREFIX_LENGTH}`);
    });
    // Where /run is not a tmpfs (this kind of machine: no systemd as PID 1), nspawn's runtime dir
    // would outlive the lab: give it a tmpfs of the lab's own. A normal /run already is one.
    if (!runIsTmpfs() && !isMountPoint(NSPAWN_RUN_DIR)) {
      mkdirSync(NSPAWN_RUN_DIR, { recursive: true });
      await step("hosts", () =>
        runOk("mount", ["-t", "tmpfs", "-o", "mode=0755", NSPAWN_TMPFS_TAG, NSPAWN_RUN_DIR]),
      );
      state.nspawnTmpfs = true;
    }
    for (const dir of state.cgroups) mkdirSync(dir, { recursive: true });

    const bootStart = performance.now();
    const vagrantKeys = access ? await access.createKeys() : undefined;
    await Promise.all(
      state.hosts.map((h) =>
        prepareHost(
          h,
          hosts,
          publicKey,
          state,
          vagrantKeys?.get(h.name),
          h.role === "worker" ? imageList : "",
        ),
      ),
    );
    for (const h of state.hosts) h.pid = launchHost(h, state);
    writeLabState(state);
    log(`[hosts] booting ${state.hosts.map((h) => h.name).join(", ")}`);

    const mirrorDir = wantedMirrorDir;
    if (options.mirrorDir === undefined) mkdirSync(mirrorDir, { recursive: true });
    else if (!existsSync(mirrorDir))
      log(`[mirror] ${mirrorDir} does not exist (yet): it answers 404 until it does`);
    state.mirror = { pid: await startMirror(state, mirrorDir), url: mirrorUrl, dir: mirrorDir };
    writeLabState(state);
    log(`[mirror] ${mirrorUrl} serves ${mirrorDir}`);

    if (access) {
      state.forwarder = {
        pid: await startForwarder(state, access.ports),
        ports: Object.fromEntries(access.ports.map((p) => [p.name, p.port])),
      };
      writeLabState(state);
      log(`[vagrant] ${access.ports.map((p) => `${p.name} 127.0.0.1:${p.port}`).join(", ")}`);
    }

    const timeout = (options.readyTimeoutSeconds ?? 60) * 1000;
    let bootSeconds = 0;
    // Each host's keys are scanned as soon as its sshd answers, while the others still boot.
    const keys = await Promise.all(
      state.hosts.map(async (h) => {
        await waitForSsh(h, timeout);
        bootSeconds = Math.max(bootSeconds, (performance.now() - bootStart) / 1000);
        return scanHostKeys(h);
      }),
    );
    log(`[hosts] ${state.hosts.length} host(s) answer SSH after ${bootSeconds.toFixed(1)} s`);
    if (access) {
      // khw reaches each host only through its forwarded port: known_hosts names it [127.0.0.1]:<port>.
      await Promise.all(access.ports.map((p) => waitForBanner("127.0.0.1", p.port, timeout, p.name)));
      keys.push(
        ...state.hosts.map((h, i) => {
          const port = access.ports.find((p) => p.name === h.name)!.port;
          return keys[i]!.replace(
            new RegExp(`^${h.address.replace(/\./g, "\\.")} `, "gm"),
            `[127.0.0.1]:${port} `,
          );
        }),
      );
    }
    writeFileAtomic(knownHostsFile, keys.join(""));
    log(`[ssh] host keys in ${knownHostsFile}`);
    writeFileAtomic(clusterYaml, yamlText);
    log(`[spec] ${clusterYaml}`);
    return result(
      state,
      true,
      { baseBuildSeconds: base.buildSeconds, baseExtractSeconds: base.extractSeconds, bootSeconds },
      t0,
      limitsRaised,
    );
  } catch (err) {
    log(`[up] failed; removing what was started`);
    try {
      await labDown({ workdir, labName });
    } catch {
      // the original error matters more; `khw lab down` reports leftovers
    }
    throw err;
  }
}

function result(
  state: LabState,
  started: boolean,
  t: { baseBuildSeconds: number; baseExtractSeconds: number; bootSeconds: number },
  t0: number,
  limitsRaised: string[],
): LabUpResult {
  return {
    labName: state.labName,
    workdir: state.workdir,
    stateDir: state.stateDir,
    hosts: state.hosts.map((h) => ({ name: h.name, role: h.role, address: h.address, pid: h.pid })),
    keyFile: state.keyFile,
    knownHostsFile: state.knownHostsFile,
    clusterYaml: state.clusterYaml,
    mirrorUrl: state.mirror?.url ?? "",
    started,
    access: state.asVagrant ? "vagrant" : "root",
    limitsRaised,
    timings: { ...t, totalSeconds: (performance.now() - t0) / 1000 },
  };
}

function sameHosts(state: LabState, hosts: readonly LabHost[]): boolean {
  if (state.hosts.length !== hosts.length) return false;
  return hosts.every((h) => state.hosts.some((s) => s.name === h.name && s.address === h.address));
}

async function step<T>(name: string, fn: () => Promise<T>, host?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LabError) throw err;
    const code = name === "network" ? "LAB_NETWORK_FAILED" : "LAB_HOST_START_FAILED";
    throw new LabError(code, (err as Error).message, {
      step: name,
      ...(host ? { host } : {}),
      hint: "run `khw lab down`, then `khw lab up` again; check `dmesg` if it persists",
      cause: err,
    });
  }
}

/** Fresh overlay (lower = base, upper = the host's own dir), then the host's own files written through it. */
async function prepareHost(
  host: LabHostState,
  all: readonly LabHost[],
  publicKey: string,
  state: LabState,
  vagrantKey?: string,
  imageList = "",
) {
  await step(
    "hosts",
    async () => {
      rmSync(host.dir, { recursive: true, force: true });
      const upper = join(host.dir, "upper");
      const work = join(host.dir, "work");
      for (const d of [upper, work, host.root]) mkdirSync(d, { recursive: true });
      await runOk("mount", [
        "-t",
        "overlay",
        state.mountTag,
        "-o",
        `lowerdir=${state.baseRootfs},upperdir=${upper},workdir=${work}`,
        host.root,
      ]);
      const r = host.root;
      writeFileSync(join(r, "etc/hostname"), `${host.name}\n`);
      writeFileSync(join(r, "etc/hosts"), renderEtcHosts(all));
      writeFileSync(join(r, "etc/systemd/network/10-khw-host0.network"), renderHost0Network(host));
      mkdirSync(join(r, "root/.ssh"), { recursive: true, mode: 0o700 });
      writeFileSync(join(r, "root/.ssh/authorized_keys"), publicKey, { mode: 0o600 });
      if (vagrantKey) {
        const ssh = join(r, "home/vagrant/.ssh");
        mkdirSync(ssh, { recursive: true, mode: 0o700 });
        writeFileSync(join(ssh, "authorized_keys"), vagrantKey, { mode: 0o600 });
        for (const p of [ssh, join(ssh, "authorized_keys")]) chownSync(p, LAB_VAGRANT_UID, LAB_VAGRANT_UID);
      }
      if (imageList) writeImageReimport(r, imageList);
    },
    host.name,
  );
}

/**
 * Lab-only, on workers: containerd's store is a tmpfs here (see base-image.ts), emptied whenever the host
 * stops, while a real host keeps its images across a reboot. So when containerd starts and lacks one of
 * the lab's images, a drop-in imports it again from the mirror (`imageList`: "<url> <ref>" lines): a
 * worker restarted by hand runs its pods again without a `khw up`. khw's own image step then finds
 * them there.
 */
function writeImageReimport(root: string, imageList: string): void {
  writeFileSync(join(root, "etc/khw-lab/images"), imageList);
  writeFileSync(
    join(root, "etc/khw-lab/import-images"),
    [
      "#!/bin/sh",
      "# khw lab only: import the lab's images containerd lacks (its store is a tmpfs, lost when the host stops)",
      "ctr=/usr/local/bin/ctr",
      '[ -x "$ctr" ] || exit 0',
      'have=$("$ctr" -n k8s.io images ls -q 2>/dev/null)',
      "while read -r url ref; do",
      '  [ -n "$ref" ] || continue',
      '  printf "%s\n" "$have" | grep -qxF "$ref" && continue',
      "  f=$(mktemp) || exit 0",
      '  curl -fsS --retry 3 -o "$f" "$url" && "$ctr" -n k8s.io images import "$f" >/dev/null && echo "imported $ref"',
      '  rm -f "$f"',
      "done < /etc/khw-lab/images",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  const dropIn = join(root, "etc/systemd/system/containerd.service.d");
  mkdirSync(dropIn, { recursive: true });
  writeFileSync(
    join(dropIn, "khw-lab-images.conf"),
    "# khw lab only: see /etc/khw-lab/import-images\n[Service]\nExecStartPost=-/etc/khw-lab/import-images\n",
  );
}

/** Starts `systemd-nspawn` for the host: detached (own session), inside the lab's cgroup for this host. */
export function launchHost(host: LabHostState, state: LabState): number {
  const moves = state.cgroups
    .map((c) => {
      const dir = join(c, host.name);
      mkdirSync(dir, { recursive: true });
      return `echo $$ > '${join(dir, "cgroup.procs")}'`;
    })
    .join(" && ");
  const nspawn = [
    "systemd-nspawn",
    "--register=no",
    "--keep-unit",
    "-q",
    "-b",
    "-D",
    host.root,
    "-M",
    host.name,
    `--network-bridge=${state.bridge}`,
    "--resolv-conf=off",
    "--timezone=off",
    "--link-journal=no",
    "--console=passive",
  ];
  const logFd = openSync(join(host.dir, "nspawn.log"), "a");
  try {
    const child = spawn("sh", ["-c", `${moves ? `${moves} && ` : ""}exec ${nspawn.map(shq).join(" ")}`], {
      detached: true,
      stdio: ["ignore", logFd, logFd],
    });
    child.unref();
    if (!child.pid) {
      throw new LabError("LAB_HOST_START_FAILED", "systemd-nspawn could not be started.", {
        step: "hosts",
        host: host.name,
        hint: "check that systemd-nspawn runs: systemd-nspawn --version",
      });
    }
    return child.pid;
  } finally {
    closeSync(logFd);
  }
}

function shq(s: string): string {
  return /^[A-Za-z0-9_./=:@-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

async function startMirror(state: LabState, dir: string): Promise<number> {
  return startHelper(
    state,
    "mirror",
    MIRROR_SCRIPT,
    [dir, LAB_GATEWAY, String(LAB_MIRROR_PORT)],
    "mirror: serving",
    {
      code: "LAB_MIRROR_FAILED",
      hint: `check that port ${LAB_MIRROR_PORT} on ${LAB_GATEWAY} is free`,
    },
  );
}

async function startForwarder(state: LabState, ports: ReadonlyArray<VagrantPort>): Promise<number> {
  return startHelper(
    state,
    "forward",
    FORWARD_SCRIPT,
    ports.map((p) => `${p.port}=${p.address}:22`),
    "forward: listening",
    {
      code: "LAB_HOST_START_FAILED",
      hint: `check that the ports ${ports.map((p) => p.port).join(", ")} on 127.0.0.1 are free (a Vagrant VM?)`,
    },
  );
}

/**
 * A small Node process of the lab (the mirror, the port forwarder): its script written into the state
 * dir, run detached inside the lab's cgroup (so `khw lab down` finds it), ready when its log says so.
 */
async function startHelper(
  state: LabState,
  name: string,
  scriptText: string,
  scriptArgs: string[],
  ready: string,
  failure: { code: "LAB_MIRROR_FAILED" | "LAB_HOST_START_FAILED"; hint: string },
): Promise<number> {
  const script = join(state.stateDir, `${name}.cjs`);
  writeFileSync(script, scriptText);
  const cg = state.cgroups.map((c) => {
    mkdirSync(join(c, name), { recursive: true });
    return `echo $$ > '${join(c, name, "cgroup.procs")}'`;
  });
  const logFile = join(state.stateDir, `${name}.log`);
  const logFd = openSync(logFile, "w");
  let pid: number | undefined;
  try {
    const args = [process.execPath, script, ...scriptArgs].map(shq).join(" ");
    const child = spawn("sh", ["-c", `${cg.length ? `${cg.join(" && ")} && ` : ""}exec ${args}`], {
      detached: true,
      stdio: ["ignore", logFd, logFd],
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(logFd);
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (pid && readFileSync(logFile, "utf8").includes(ready)) return pid;
    if (!pid || !isAlive(pid)) break;
    await sleep(50);
  }
  throw new LabError(
    failure.code,
    `the lab's ${name} did not start: ${readFileSync(logFile, "utf8").trim()}`,
    {
      step: name,
      hint: failure.hint,
    },
  );
}

interface VagrantPort {
  name: string;
  address: string;
  port: number;
}

/** Vagrant-style access: one port per host (2700 + last octet) and a per-machine key, as Vagrant lays them out. */
function vagrantAccess(workdir: string, hosts: readonly LabHost[]) {
  const ports: VagrantPort[] = hosts.map((h) => ({
    name: h.name,
    address: h.address,
    port: 2700 + Number(h.address.split(".")[3]),
  }));
  const keyOf = (name: string) => join(".vagrant", "machines", name, "virtualbox", "private_key");
  return {
    ports,
    ssh: Object.fromEntries(
      ports.map((p) => [
        p.name,
        { host: "127.0.0.1", port: p.port, user: "vagrant", identityFile: keyOf(p.name) },
      ]),
    ),
    /** Generates each machine's key (kept when it exists); returns the public keys by host. */
    async createKeys(): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      for (const p of ports) {
        const file = join(workdir, keyOf(p.name));
        mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
        if (!existsSync(file)) {
          await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `vagrant@${p.name}`, "-f", file]);
        }
        chmodSync(file, 0o600);
        out.set(p.name, readFileSync(`${file}.pub`, "utf8"));
      }
      return out;
    },
  };
}

/** Resolves once the host's sshd sends its banner; fails early if the launcher died. */
export async function waitForSsh(host: LabHostState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(host.pid) || !cmdline(host.pid).some((a) => a.endsWith("systemd-nspawn"))) {
      throw new LabError("LAB_HOST_START_FAILED", `systemd-nspawn exited: ${logTail(host)}`, {
        step: "hosts",
        host: host.name,
        hint: `read ${join(host.dir, "nspawn.log")}; run \`khw lab down\` and retry`,
      });
    }
    if (await sshBanner(host.address, 22)) return;
    await sleep(100);
  }
  throw new LabError(
    "LAB_HOST_NOT_READY",
    `sshd did not answer on ${host.address}:22 within ${timeoutMs / 1000} s.`,
    {
      step: "hosts",
      host: host.name,
      hint: `look at the host's boot: ${join(host.dir, "nspawn.log")}; then khw lab down`,
    },
  );
}

function logTail(host: LabHostState): string {
  try {
    return readFileSync(join(host.dir, "nspawn.log"), "utf8").trim().split("\n").slice(-3).join(" | ");
  } catch {
    return "(no log)";
  }
}

/** Resolves once an sshd answers on address:port (a host's forwarded port), or throws after the timeout. */
async function waitForBanner(address: string, port: number, timeoutMs: number, host: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await sshBanner(address, port)) return;
    await sleep(100);
  }
  throw new LabError(
    "LAB_HOST_NOT_READY",
    `no sshd answered on ${address}:${port} within ${timeoutMs / 1000} s.`,
    {
      step: "vagrant",
      host,
      hint: "the lab's port forwarder is not running: read .khw-lab/forward.log, then khw lab down and retry",
    },
  );
}

function sshBanner(address: string, port: number): Promise<boolean> {
  return new Promise((resolveBanner) => {
    const socket = connect({ host: address, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolveBanner(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (d) => done(d.toString("latin1").startsWith("SSH-")));
  });
}

async function scanHostKeys(host: LabHostState): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await run("ssh-keyscan", ["-T", "3", "-t", "ed25519,ecdsa,rsa", host.address], {
      timeoutMs: 10_000,
    });
    const lines = r.stdout
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .sort();
    if (lines.some((l) => l.includes("ssh-ed25519"))) return `${lines.join("\n")}\n`;
    await sleep(200);
  }
  throw new LabError("LAB_HOST_NOT_READY", `ssh-keyscan got no host key from ${host.address}.`, {
    step: "ssh",
    host: host.name,
    hint: "the host's first-boot key generation failed: khw lab ssh is impossible; run khw lab down and retry",
  });
}

function runIsTmpfs(): boolean {
  return mounts().some((m) => m.mountPoint === "/run" && m.fstype === "tmpfs");
}

async function stopProcess(pid: number): Promise<void> {
  signal(pid, "SIGTERM");
  const deadline = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signal(pid, "SIGKILL");
  const killed = Date.now() + 2000;
  while (isAlive(pid) && Date.now() < killed) await sleep(20);
}
