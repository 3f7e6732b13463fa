// A real OpenSSH sshd inside a network namespace (the kit's netns lab) whose view of the file
// system is sandboxed: /etc, /var, /opt and /usr/local are overlays on a private tmpfs, so khw can
// upload to /etc/etcd or /var/lib/kubernetes without touching this machine. There is no systemd
// inside: /run is a fresh tmpfs (with /run/systemd/system as the marker preflight looks for, unless
// `systemd: false`), so `systemctl` cannot reach the machine's own systemd.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { acquirePidLock } from "@khw/host-io";
import {
  CLEAN_ENV,
  createNetnsLab,
  descendants,
  generateKey,
  makeTempDir,
  type NetnsLab,
  SSHD,
} from "./sshd";

/**
 * Like createNetnsLab, on its own /27 (198.18.0.128/27: bridge .129, hosts .130 up), so these tests
 * never share addresses with remote-exec's or other suites' labs (198.18.0.224/27) when test files
 * run in parallel.
 */
export type SandboxLab = Pick<NetnsLab, "hosts" | "unusedAddress" | "destroy">;

const SANDBOX_LOCK = "/run/khw-test-sandbox-198.18.0.128.lock";

export async function createSandboxLab(count: number): Promise<SandboxLab> {
  // machine-wide exclusive use of 198.18.0.128/27: test files (and parallel runs) take turns
  const unlock = await acquirePidLock(SANDBOX_LOCK, { timeoutMs: 600_000, pollMs: 250 });
  if (!unlock) throw new Error(`${SANDBOX_LOCK} has been held by another process for 10 minutes`);
  try {
    const lab = await createNetnsLab(count, { bridge: 129, ns: "khwcli", veth: "kcl" });
    return {
      hosts: lab.hosts,
      unusedAddress: lab.unusedAddress,
      destroy: async () => {
        await lab.destroy();
        unlock();
      },
    };
  } catch (e) {
    unlock();
    throw e;
  }
}

export interface SandboxSshd {
  netns: string;
  address: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startSandboxSshd(options: {
  netns: string;
  address: string;
  authorizedKey: string;
  /** A user with passwordless sudo (besides root). */
  sudoUser?: string;
  /** A user without sudo rights. */
  plainUser?: string;
  systemd?: boolean;
  dir?: string;
}): Promise<SandboxSshd> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await makeTempDir("khw-sandbox-"));
  const hostKey = await generateKey(dir, "ssh_host_ed25519_key");
  await writeFile(join(dir, "authorized_keys"), `${options.authorizedKey}\n`, { mode: 0o644 });
  const config = [
    `ListenAddress ${options.address}:22`,
    `HostKey ${hostKey.privateKeyPath}`,
    "PidFile none",
    "UsePAM no",
    "StrictModes no",
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    "PrintMotd no",
    "UseDNS no",
    "LogLevel INFO",
  ];
  await writeFile(join(dir, "sshd_config"), `${config.join("\n")}\n`, { mode: 0o600 });
  const u = options.sudoUser;
  const script = [
    "set -e",
    'mount -t tmpfs -o mode=0755 khw-sandbox "$1/fs"',
    "for d in etc var opt usr/local; do",
    '  n=$(echo $d | tr / _); mkdir -p "$1/fs/$n/u" "$1/fs/$n/w"',
    '  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$1/fs/$n/u,workdir=$1/fs/$n/w" "/$d"',
    "done",
    "mount -t tmpfs -o mode=0755 khw-run /run",
    "mkdir -m 0755 /run/sshd",
    ...(options.systemd === false ? [] : ["mkdir -p /run/systemd/system"]),
    // root logs in with a plain sh and a home in the temp dir (no rc files)
    'mkdir -p "$1/home/root"; sed -i "s#^root:.*#root:x:0:0:root:$1/home/root:/bin/sh#" /etc/passwd',
    ...(u
      ? [
          `mkdir -p "$1/home/${u}"; chown 4711:4711 "$1/home/${u}"`,
          `echo "${u}:x:4711:4711::$1/home/${u}:/bin/sh" >> /etc/passwd`,
          `echo "${u}:x:4711:" >> /etc/group`,
          `echo "${u}:*:19000:0:99999:7:::" >> /etc/shadow`,
          `mkdir -p /etc/sudoers.d; echo "${u} ALL=(ALL:ALL) NOPASSWD: ALL" > /etc/sudoers.d/khw-test; chmod 0440 /etc/sudoers.d/khw-test`,
        ]
      : []),
    ...(options.plainUser
      ? [
          `mkdir -p "$1/home/${options.plainUser}"; chown 4712:4712 "$1/home/${options.plainUser}"`,
          `echo "${options.plainUser}:x:4712:4712::$1/home/${options.plainUser}:/bin/sh" >> /etc/passwd`,
          `echo "${options.plainUser}:x:4712:" >> /etc/group`,
          `echo "${options.plainUser}:*:19000:0:99999:7:::" >> /etc/shadow`,
        ]
      : []),
    `exec ${SSHD} -D -e -f "$1/sshd_config"`,
  ].join("\n");
  await mkdir(join(dir, "fs"), { recursive: true });
  const argv = [
    "ip",
    "netns",
    "exec",
    options.netns,
    "unshare",
    "-m",
    "--propagation",
    "private",
    "sh",
    "-c",
    script,
    "khw-sandbox",
    dir,
  ];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), {
    env: CLEAN_ENV,
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${log}`)), 10_000);
    child.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
      if (log.includes("Server listening on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited (${code}):\n${log}`));
    });
  });
  const pid = child.pid!;
  return {
    netns: options.netns,
    address: options.address,
    pid,
    stop: async () => {
      const exited =
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((r) => child.once("exit", () => r()));
      for (const p of [pid, ...descendants(pid)]) {
        try {
          process.kill(p, "SIGKILL");
        } catch {}
      }
      await exited;
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
