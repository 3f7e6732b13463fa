// A real OpenSSH sshd inside a network namespace (remote-exec's test lab) whose view of the file
// system is sandboxed: /etc, /var, /opt and /usr/local are overlays on a private tmpfs, so khw can
// upload to /etc/etcd or /var/lib/kubernetes without touching this machine. There is no systemd
// inside: /run is a fresh tmpfs (with /run/systemd/system as the marker preflight looks for, unless
// `systemd: false`), so `systemctl` cannot reach the machine's own systemd.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { descendants, generateKey, makeTempDir, run, SSHD } from "../../../../packages/remote-exec/test/sshd";

/**
 * Like remote-exec's createNetnsLab, on its own /27 (198.18.0.128/27: bridge .129, hosts .130 up), so
 * these tests never share addresses with remote-exec's or other suites' labs (198.18.0.224/27) when
 * test files run in parallel.
 */
export interface SandboxLab {
  hosts: Array<{ netns: string; address: string }>;
  unusedAddress: string;
  destroy(): Promise<void>;
}

const SANDBOX_LOCK = "/run/khw-test-sandbox-198.18.0.128.lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Machine-wide exclusive use of 198.18.0.128/27: test files (and parallel test runs) that build a
 * sandbox lab take turns instead of putting the same addresses on two bridges. A dead holder's lock
 * is taken over.
 */
async function lockSandboxNet(): Promise<() => void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      const fd = openSync(SANDBOX_LOCK, "wx", 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(SANDBOX_LOCK, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = Number(readFileSync(SANDBOX_LOCK, "utf8").trim() || "0");
    if (holder && holder !== process.pid && !alive(holder)) {
      rmSync(SANDBOX_LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${SANDBOX_LOCK} is held by process ${holder} for 10 minutes`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function createSandboxLab(count: number): Promise<SandboxLab> {
  const unlock = await lockSandboxNet();
  const id = randomBytes(2).toString("hex");
  const bridge = `khwcli${id}`;
  const hosts = Array.from({ length: count }, (_, i) => ({
    netns: `khwcli-${id}-${i}`,
    address: `198.18.0.${130 + i}`,
    veth: `kcl${id}h${i}`,
  }));
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    for (const h of hosts) {
      const pids = (await run("ip", ["netns", "pids", h.netns]).catch(() => ""))
        .split("\n")
        .filter((l) => /^\d+$/.test(l))
        .map(Number);
      for (const p of pids) {
        try {
          process.kill(p, "SIGKILL");
        } catch {}
      }
      await run("ip", ["netns", "del", h.netns]).catch(() => "");
    }
    if (existsSync(`/sys/class/net/${bridge}`)) await run("ip", ["link", "del", bridge]).catch(() => "");
    unlock();
  };
  try {
    const batch = [
      `link add ${bridge} type bridge`,
      `addr add 198.18.0.129/27 dev ${bridge}`,
      `link set ${bridge} up`,
      ...hosts.flatMap((h) => [
        `netns add ${h.netns}`,
        `link add ${h.veth} type veth peer name eth0 netns ${h.netns}`,
        `link set ${h.veth} master ${bridge} up`,
      ]),
    ];
    await run("ip", ["-batch", "-"], `${batch.join("\n")}\n`);
    for (const h of hosts) {
      await run(
        "ip",
        ["-n", h.netns, "-batch", "-"],
        `addr add ${h.address}/27 dev eth0\nlink set eth0 up\nlink set lo up\n`,
      );
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  return { hosts: hosts.map(({ netns, address }) => ({ netns, address })), unusedAddress: "198.18.0.158", destroy };
}

export interface SandboxSshd {
  netns: string;
  address: string;
  pid: number;
  stop(): Promise<void>;
}

const CLEAN_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };

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
  const argv = ["ip", "netns", "exec", options.netns, "unshare", "-m", "--propagation", "private", "sh", "-c", script, "khw-sandbox", dir];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { env: CLEAN_ENV, stdio: ["ignore", "ignore", "pipe"], detached: true });
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
