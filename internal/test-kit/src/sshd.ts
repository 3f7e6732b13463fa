// Test helpers: real OpenSSH sshd processes with their own config, host keys and users, on
// 127.0.0.1 or inside network namespaces on a private bridge (198.18.0.224/27). Everything they
// start is stopped by PID and every namespace/bridge deleted by `stop()` / `destroy()`.
//
// Part of the test kit: `import { startSshd, createNetnsLab, generateKey } from "@khw/test-kit/sshd"`.
// Requires root, /usr/sbin/sshd (openssh-server), ssh-keygen, ip (iproute2), unshare (util-linux);
// the sudo tests need sudo.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failureMessage, run as hostRun } from "@khw/host-io";

export const SSHD = "/usr/sbin/sshd";

// Safety net: if the test process exits without stop()/destroy() (a crash, a forgotten afterAll),
// kill what is still running and delete namespaces and bridges, synchronously, on the way out.
const liveSshds = new Map<number, () => number[]>();
const liveLabs = new Map<string, { netns: string[]; links: string[] }>();
process.once("exit", () => {
  for (const [pid, tree] of liveSshds) {
    for (const p of [pid, ...tree()]) {
      try {
        process.kill(p, "SIGKILL");
      } catch {}
    }
  }
  for (const lab of liveLabs.values()) {
    for (const ns of lab.netns) {
      try {
        const pids = execFileSync("ip", ["netns", "pids", ns]).toString().split("\n").filter(Boolean);
        for (const p of pids) process.kill(Number(p), "SIGKILL");
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      } catch {}
    }
    for (const link of lab.links) {
      try {
        execFileSync("ip", ["link", "del", link], { stdio: "ignore" });
      } catch {}
    }
  }
});
export const CLEAN_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };

/** Runs a program with a clean environment (stdin from `input`); its stdout, or an Error naming it. */
export async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await hostRun(cmd, args, { env: CLEAN_ENV, input });
  if (r.code !== 0) throw new Error(failureMessage(cmd, args, r));
  return r.stdout;
}

export async function makeTempDir(prefix = "khw-sshd-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755); // other users (the test's sudo user) must traverse it
  return dir;
}

export interface KeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
  /** The private key (OpenSSH format). */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
  /** `SHA256:...` as ssh-keygen prints it. */
  fingerprint: string;
}

/** `ssh-keygen -t <type>` into `dir/name`. */
export async function generateKey(dir: string, name: string, type = "ed25519"): Promise<KeyPair> {
  const path = join(dir, name);
  await run("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", path]);
  const fp = await run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${path}.pub`]);
  return {
    privateKeyPath: path,
    publicKeyPath: `${path}.pub`,
    privateKey: await readFile(path, "utf8"),
    publicKey: (await readFile(`${path}.pub`, "utf8")).trim(),
    fingerprint: fp.split(" ")[1] ?? "",
  };
}

export interface SshdUser {
  name: string;
  /** Default 4711 + index. */
  uid?: number;
  /** Give the user passwordless sudo (needs sudo installed). */
  sudo?: boolean;
}

export interface StartSshdOptions {
  /** Public key lines allowed to log in (for root and every extra user). */
  authorizedKeys: string[];
  /** Work directory (config, keys, homes). Default: a new temp dir, removed by stop(). */
  dir?: string;
  /** Listen address, default 127.0.0.1. */
  address?: string;
  /** Port, default a free one on 127.0.0.1 (22 inside a netns). */
  port?: number;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Non-root users to create (visible to this sshd only). */
  users?: SshdUser[];
  /** Reuse these host keys (private key paths) instead of generating one ed25519 key. */
  hostKeys?: string[];
  /** Extra sshd_config lines. */
  config?: string[];
}

export interface SshdHandle {
  host: string;
  port: number;
  pid: number;
  dir: string;
  /** Private key paths of the host keys. */
  hostKeys: string[];
  /** Public host key lines (`ssh-ed25519 AAAA...`). */
  hostPublicKeys: string[];
  /** SHA256 fingerprints of the host keys. */
  hostFingerprints: string[];
  /** known_hosts lines for this sshd (`[127.0.0.1]:PORT ssh-ed25519 AAAA...`). */
  knownHostsLines(): string[];
  /** Home directory of a user (root included) as this sshd sees it. */
  home(user: string): string;
  /** PIDs of this sshd and everything it started. */
  pids(): number[];
  /** What sshd logged so far (-e: to stderr), the last 50-100 kB. */
  log(): string;
  /** Stops sshd and every process it started (SIGKILL by PID), removes its temp dir if it made it. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (there is a tiny race until sshd binds it; callers retry). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts `/usr/sbin/sshd -D -e -f <own config>` with its own host key, `UsePAM no`, a clean
 * environment, and — in a private mount namespace — its own /etc/passwd, /etc/group, /etc/shadow
 * (root's login shell is /bin/sh with a home in the temp dir, so no rc file runs), /run and
 * /etc/sudoers.d. Nothing outside the temp dir is modified.
 */
export async function startSshd(options: StartSshdOptions): Promise<SshdHandle> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await makeTempDir());
  if (!ownDir) {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
  }
  const children: ChildProcess[] = [];
  try {
    const address = options.address ?? "127.0.0.1";
    const hostKeys: string[] = options.hostKeys ?? [];
    if (hostKeys.length === 0) {
      const k = await generateKey(dir, "ssh_host_ed25519_key");
      hostKeys.push(k.privateKeyPath);
    }
    const hostPublicKeys: string[] = [];
    const hostFingerprints: string[] = [];
    for (const k of hostKeys) {
      hostPublicKeys.push((await readFile(`${k}.pub`, "utf8")).trim().split(" ").slice(0, 2).join(" "));
      hostFingerprints.push(
        (await run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${k}.pub`])).split(" ")[1] ?? "",
      );
    }

    // users, homes, authorized keys
    const users = (options.users ?? []).map((u, i) => ({ ...u, uid: u.uid ?? 4711 + i }));
    const homes = new Map<string, string>([["root", join(dir, "home", "root")]]);
    for (const u of users) homes.set(u.name, join(dir, "home", u.name));
    await mkdir(join(dir, "authorized_keys"), { recursive: true });
    for (const [user, home] of homes) {
      await mkdir(home, { recursive: true });
      await writeFile(join(dir, "authorized_keys", user), `${options.authorizedKeys.join("\n")}\n`, {
        mode: 0o644,
      });
    }
    for (const u of users) await chown(homes.get(u.name)!, u.uid, u.uid);

    const passwd = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .filter((l) => l !== "" && !users.some((u) => l.startsWith(`${u.name}:`)))
      .map((l) => (l.startsWith("root:") ? `root:x:0:0:root:${homes.get("root")}:/bin/sh` : l));
    const group = readFileSync("/etc/group", "utf8")
      .split("\n")
      .filter((l) => l !== "" && !users.some((u) => l.startsWith(`${u.name}:`)));
    const shadow = readFileSync("/etc/shadow", "utf8")
      .split("\n")
      .filter((l) => l !== "" && !users.some((u) => l.startsWith(`${u.name}:`)));
    for (const u of users) {
      passwd.push(`${u.name}:x:${u.uid}:${u.uid}::${homes.get(u.name)}:/bin/sh`);
      group.push(`${u.name}:x:${u.uid}:`);
      shadow.push(`${u.name}:*:19000:0:99999:7:::`);
    }
    await writeFile(join(dir, "passwd"), `${passwd.join("\n")}\n`, { mode: 0o644 });
    await writeFile(join(dir, "group"), `${group.join("\n")}\n`, { mode: 0o644 });
    await writeFile(join(dir, "shadow"), `${shadow.join("\n")}\n`, { mode: 0o640 });
    await mkdir(join(dir, "sudoers.d"), { recursive: true, mode: 0o750 });
    const sudoers = users.filter((u) => u.sudo).map((u) => `${u.name} ALL=(ALL:ALL) NOPASSWD: ALL\n`);
    await writeFile(join(dir, "sudoers.d", "khw-test"), sudoers.join(""), { mode: 0o440 });

    const port = options.port ?? (options.netns ? 22 : await freePort());
    const config = [
      // sshd keeps the first value of a keyword: the caller's lines come first.
      ...(options.config ?? []),
      `ListenAddress ${address}:${port}`,
      ...hostKeys.map((k) => `HostKey ${k}`),
      "PidFile none",
      "UsePAM no",
      "StrictModes no",
      "PermitRootLogin prohibit-password",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}/%u`,
      "Subsystem sftp /usr/lib/openssh/sftp-server",
      "MaxStartups 200:30:400",
      "PrintMotd no",
      "PrintLastLog no",
      "UseDNS no",
      "X11Forwarding no",
      "AllowTcpForwarding yes",
      "LogLevel INFO",
    ];
    const configPath = join(dir, "sshd_config");
    await writeFile(configPath, `${config.join("\n")}\n`, { mode: 0o600 });
    for (const k of hostKeys) await chmod(k, 0o600);

    // In a private mount namespace: own /run (privsep dir), passwd, group, shadow, sudoers.d.
    const script = [
      "set -e",
      "mount -t tmpfs -o mode=0755 khw-run /run",
      "mkdir -m 0755 /run/sshd",
      'mount --bind "$1/passwd" /etc/passwd',
      'mount --bind "$1/group" /etc/group',
      'mount --bind "$1/shadow" /etc/shadow',
      'if [ -d /etc/sudoers.d ]; then mount --bind "$1/sudoers.d" /etc/sudoers.d; fi',
      `exec ${SSHD} -D -e -f "$1/sshd_config"`,
    ].join("\n");
    const inner = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "khw-sshd", dir];
    const argv = options.netns ? ["ip", "netns", "exec", options.netns, ...inner] : inner;
    const child = spawn(argv[0]!, argv.slice(1), {
      env: CLEAN_ENV,
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
    children.push(child);
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start within 10 s:\n${log}`)), 10_000);
      child.stderr!.on("data", (d: Buffer) => {
        log += d.toString();
        if (log.length > 100_000) log = log.slice(-50_000);
        if (log.includes("Server listening on")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited (${code ?? signal}) before listening:\n${log}`));
      });
    });
    const pid = child.pid!;
    const pids = (): number[] => [pid, ...descendants(pid)];
    liveSshds.set(pid, () => descendants(pid));
    let stopped = false;
    return {
      host: address,
      port,
      pid,
      dir,
      hostKeys,
      hostPublicKeys,
      hostFingerprints,
      knownHostsLines: () => {
        const name = port === 22 ? address : `[${address}]:${port}`;
        return hostPublicKeys.map((k) => `${name} ${k}`);
      },
      home: (user) => {
        const h = homes.get(user);
        if (!h) throw new Error(`no user ${user}`);
        return h;
      },
      pids,
      log: () => log,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await killAndWait(child, pids());
        liveSshds.delete(pid);
        if (ownDir) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const c of children) if (c.pid) await killAndWait(c, [c.pid, ...descendants(c.pid)]);
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** All descendants of `pid` (children first collected from /proc). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

async function killAndWait(child: ChildProcess, pids: number[]): Promise<void> {
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await exited;
}

// -------------------------------------------------------------------------------------------------
// network namespaces

export const LAB_SUBNET_PREFIX = "198.18.0.";
/** The bridge's own address; hosts get .226 upwards (a /27 so a /24 lab bridge elsewhere does not clash). */
export const LAB_BRIDGE_ADDRESS = "198.18.0.225";
export const LAB_MAX_HOSTS = 28;

export interface NetnsLab {
  id: string;
  bridge: string;
  /** One per host: its namespace and address. */
  hosts: Array<{ netns: string; address: string }>;
  /** An address on the lab's subnet where nothing answers (for "unreachable host" tests). */
  unusedAddress: string;
  /** Kills every process in the namespaces, deletes them and the bridge. Safe to call twice. */
  destroy(): Promise<void>;
}

/** Which /27 of 198.18.0.0/24 a netns lab uses, and how its namespaces and links are named. */
export interface NetnsSubnet {
  /** The last octet of the bridge's own address (hosts get the next ones; .bridge+29 is left unused). */
  bridge: number;
  /** Namespace `<ns>-<id>-<i>`, bridge `<ns><id>`. */
  ns: string;
  /** Host-side veth `<veth><id>h<i>` (link names are at most 15 characters). */
  veth: string;
}

/** remote-exec's own /27: bridge 198.18.0.225, hosts .226 upwards. */
export const REMOTE_EXEC_SUBNET: NetnsSubnet = { bridge: 225, ns: "khwre", veth: "kre" };

/**
 * Creates `count` network namespaces (`khwre-<id>-<i>`), each with an `eth0` veth attached to a new
 * bridge `khwre<id>` (198.18.0.225/27 on this machine); namespace i gets 198.18.0.(226+i). Another
 * `subnet` puts the lab on another /27 (the caller serialises its use, e.g. with a lock).
 */
export async function createNetnsLab(
  count: number,
  subnet: NetnsSubnet = REMOTE_EXEC_SUBNET,
): Promise<NetnsLab> {
  if (count < 1 || count > LAB_MAX_HOSTS) throw new RangeError(`1..${LAB_MAX_HOSTS} hosts`);
  const id = randomBytes(2).toString("hex");
  const bridge = `${subnet.ns}${id}`;
  const hosts = Array.from({ length: count }, (_, i) => ({
    netns: `${subnet.ns}-${id}-${i}`,
    address: `${LAB_SUBNET_PREFIX}${subnet.bridge + 1 + i}`,
    veth: `${subnet.veth}${id}h${i}`,
  }));
  let destroyed = false;
  liveLabs.set(id, { netns: hosts.map((h) => h.netns), links: [bridge, ...hosts.map((h) => h.veth)] });
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    const existing = new Set(
      (await run("ip", ["netns", "list"]).catch(() => ""))
        .split("\n")
        .map((l) => l.split(" ")[0])
        .filter(Boolean),
    );
    for (const h of hosts) {
      if (!existing.has(h.netns)) continue;
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
    for (const h of hosts) {
      if (existsSync(`/sys/class/net/${h.veth}`)) await run("ip", ["link", "del", h.veth]).catch(() => "");
    }
    liveLabs.delete(id);
  };
  try {
    const batch = [
      `link add ${bridge} type bridge`,
      `addr add ${LAB_SUBNET_PREFIX}${subnet.bridge}/27 dev ${bridge}`,
      `link set ${bridge} up`,
      ...hosts.flatMap((h) => [
        `netns add ${h.netns}`,
        `link add ${h.veth} type veth peer name eth0 netns ${h.netns}`,
        `link set ${h.veth} master ${bridge} up`,
      ]),
    ];
    await run("ip", ["-batch", "-"], `${batch.join("\n")}\n`);
    await Promise.all(
      hosts.map((h) =>
        run(
          "ip",
          ["-n", h.netns, "-batch", "-"],
          [`addr add ${h.address}/27 dev eth0`, "link set eth0 up", "link set lo up"].join("\n") + "\n",
        ),
      ),
    );
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    id,
    bridge,
    hosts: hosts.map(({ netns, address }) => ({ netns, address })),
    unusedAddress: `${LAB_SUBNET_PREFIX}${subnet.bridge + 29}`,
    destroy,
  };
}

// -------------------------------------------------------------------------------------------------
// a TCP proxy that can cut its connections (for "connection lost mid-upload")

export interface CutProxy {
  port: number;
  /** Bytes forwarded client → server so far, over all connections. */
  bytesUp(): number;
  /** Calls `fn` once when `bytesUp()` first reaches `threshold`. */
  onBytesUp(threshold: number, fn: () => void): void;
  /** Destroys every connection at once (both directions), like a cable pulled. */
  cut(): void;
  /** Silently drops all traffic from now on without closing anything (a host that froze or vanished). */
  freeze(): void;
  close(): Promise<void>;
}

export async function startCutProxy(
  targetHost: string,
  targetPort: number,
  listenPort = 0,
): Promise<CutProxy> {
  const sockets = new Set<Socket>();
  let up = 0;
  let frozen = false;
  const watchers: Array<{ threshold: number; fn: () => void }> = [];
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client);
    sockets.add(upstream);
    upstream.connect(targetPort, targetHost);
    client.on("data", (d: Buffer) => {
      if (frozen) return;
      up += d.length;
      upstream.write(d);
      for (const w of [...watchers]) {
        if (up >= w.threshold) {
          watchers.splice(watchers.indexOf(w), 1);
          w.fn();
        }
      }
    });
    upstream.on("data", (d: Buffer) => {
      if (!frozen) client.write(d);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    bytesUp: () => up,
    onBytesUp: (threshold, fn) => watchers.push({ threshold, fn }),
    cut: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    freeze: () => {
      frozen = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// -------------------------------------------------------------------------------------------------
// a server that accepts TCP connections and closes them before the SSH banner

export interface DropServer {
  port: number;
  /** Connections accepted (and dropped) so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 and closes every connection as soon as it is accepted, before any byte: what
 * a client sees when sshd refuses early (MaxStartups), the host is shutting down, or a proxy drops it.
 */
export async function startDropServer(listenPort = 0): Promise<DropServer> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    connections: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
