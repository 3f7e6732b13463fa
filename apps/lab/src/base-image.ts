import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { LAB_RUNC_WRAPPER, LAB_RUNC_WRAPPER_PATH } from "@khw/images";
import { runOk } from "./_exec";
import { defaultCacheDir } from "./_paths";
import { LabError } from "./errors";
import { assertPrerequisites } from "./preflight";

/** The uid of the lab's \`vagrant\` user (\`khw lab up --as-vagrant\`). */
export const LAB_VAGRANT_UID = 1000;

/** Packages of every lab host. Packaged daemons (haproxy, containerd) get their wants-links removed. */
export const BASE_PACKAGES: readonly string[] = [
  "systemd",
  "systemd-sysv",
  "dbus",
  "openssh-server",
  "iproute2",
  "ca-certificates",
  "procps",
  "curl",
  "socat",
  "conntrack",
  "iptables",
  "kmod",
  "haproxy",
  "containerd",
  "runc",
  "containernetworking-plugins",
  "sudo",
];

/**
 * Prepares the root filesystem (mmdebstrap customize hook, `$1` is the root). Host-specific files
 * (hostname, /etc/hosts, address, root's authorized_keys) go into each host's overlay instead.
 */
export const BASE_CUSTOMIZE_SCRIPT = `set -e
R="$1"
# Packaged daemons and timers: the tool under test installs and starts its own.
for u in containerd.service haproxy.service etcd.service e2scrub_reap.service; do
  rm -f "$R/etc/systemd/system/multi-user.target.wants/$u"
done
rm -f "$R"/etc/systemd/system/timers.target.wants/*.timer
rm -f "$R/etc/systemd/system/getty.target.wants/getty@tty1.service"
# Each host generates its own SSH host keys at first boot.
rm -f "$R"/etc/ssh/ssh_host_*
cat > "$R/etc/systemd/system/khw-ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=khw lab: generate this host's own SSH host keys at first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=ssh.service
UNIT
mkdir -p "$R/etc/systemd/system/ssh.service.wants"
ln -sf /etc/systemd/system/khw-ssh-hostkeys.service "$R/etc/systemd/system/ssh.service.wants/khw-ssh-hostkeys.service"
mkdir -p "$R/etc/ssh/sshd_config.d"
printf 'PermitRootLogin prohibit-password\\nPasswordAuthentication no\\nUseDNS no\\n' > "$R/etc/ssh/sshd_config.d/khw-lab.conf"
# Static addresses from systemd-networkd (each host's own file lives in its overlay).
systemctl --root="$R" enable systemd-networkd.service >/dev/null 2>&1
# Never inherit the machine's identity or resolver.
: > "$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id" "$R/etc/hostname"
rm -f "$R/etc/resolv.conf"
echo 'nameserver 127.0.0.1' > "$R/etc/resolv.conf"
mkdir -p "$R/etc/systemd/journald.conf.d"
printf '[Journal]\\nRuntimeMaxUse=16M\\nSystemMaxUse=32M\\n' > "$R/etc/systemd/journald.conf.d/khw-lab.conf"
mkdir -p "$R/root/.ssh"
chmod 0700 "$R/root/.ssh"
# A Vagrant box's login (\`khw lab up --as-vagrant\`): user vagrant (uid 1000) with passwordless sudo; its
# authorized_keys is written per host, and only in that mode.
chroot "$R" useradd -m -u ${LAB_VAGRANT_UID} -s /bin/bash vagrant
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > "$R/etc/sudoers.d/vagrant"
chmod 0440 "$R/etc/sudoers.d/vagrant"
# Lab-only, for the kubelet (real hosts never get this): a container has no /dev/kmsg (the kubelet's
# OOM watcher reads it: point it at the console), and /proc/sys is read-only inside it while the
# kubelet sets a few kernel sysctls at start: a oneshot unit binds per-host files over exactly those,
# so the kubelet's writes land in files and never change the machine's kernel.
echo 'L /dev/kmsg - - - - /dev/console' > "$R/etc/tmpfiles.d/khw-lab-kmsg.conf"
cat > "$R/usr/local/sbin/khw-lab-sysctl-shadow" <<'SCRIPT'
#!/bin/sh
set -e
mkdir -p /run/khw-lab-sysctl
for k in vm/overcommit_memory kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
  f=/run/khw-lab-sysctl/$(echo "$k" | tr / _)
  [ -e "$f" ] || cat "/proc/sys/$k" > "$f" 2>/dev/null || echo 0 > "$f"
  mountpoint -q "/proc/sys/$k" || mount --bind "$f" "/proc/sys/$k"
done
SCRIPT
chmod 0755 "$R/usr/local/sbin/khw-lab-sysctl-shadow"
cat > "$R/etc/systemd/system/khw-lab-sysctl-shadow.service" <<'UNIT'
[Unit]
Description=khw lab: give the kubelet writable stand-ins for the kernel sysctls it sets
Before=kubelet.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/khw-lab-sysctl-shadow
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/khw-lab-sysctl-shadow.service "$R/etc/systemd/system/multi-user.target.wants/khw-lab-sysctl-shadow.service"
mkdir -p "$R/etc/khw-lab"
echo 'nameserver 198.18.0.1' > "$R/etc/khw-lab/resolv.conf"
# Lab-only, for containerd (real hosts never get this): the host's root is an overlayfs, on which
# containerd's overlayfs snapshots cannot live, so its store is a tmpfs; and containerd runs runc through
# a wrapper (rootless, no cgroups, no keyring, no negative OOM score: see @khw/images LAB-PODS.md).
cat > "$R/etc/systemd/system/var-lib-containerd.mount" <<'UNIT'
[Unit]
Description=khw lab: containerd's store on a tmpfs (overlayfs snapshots cannot sit on the host's overlay root)
Before=containerd.service

[Mount]
What=tmpfs
Where=/var/lib/containerd
Type=tmpfs
Options=mode=0711,size=2G

[Install]
WantedBy=local-fs.target
UNIT
mkdir -p "$R/etc/systemd/system/local-fs.target.wants"
ln -sf /etc/systemd/system/var-lib-containerd.mount "$R/etc/systemd/system/local-fs.target.wants/var-lib-containerd.mount"
# khw reset unmounts that store (a real host's containerd store is a plain directory, so reset leaves no
# mount behind): containerd requires the mount, so starting it again (khw up after khw reset) mounts it again.
mkdir -p "$R/etc/systemd/system/containerd.service.d"
printf '[Unit]\\nRequiresMountsFor=/var/lib/containerd\\n' > "$R/etc/systemd/system/containerd.service.d/khw-lab-store.conf"
cat > "$R${LAB_RUNC_WRAPPER_PATH}" <<'SCRIPT'
${LAB_RUNC_WRAPPER}SCRIPT
chmod 0755 "$R${LAB_RUNC_WRAPPER_PATH}"
`;

export interface BaseRecipe {
  suite: string;
  variant: string;
  packages: readonly string[];
  customize: string;
  /** Bump when the way the base is used changes without the text above changing. */
  revision: number;
}

export const BASE_RECIPE: BaseRecipe = {
  suite: "bookworm",
  variant: "minbase",
  packages: BASE_PACKAGES,
  customize: BASE_CUSTOMIZE_SCRIPT,
  revision: 1,
};

/** The cache key: changes exactly when the package list or the recipe changes. */
export function baseRecipeHash(recipe: BaseRecipe = BASE_RECIPE): string {
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 16);
}

/**
 * The machine's own Debian sources for the target suite (only Debian's package repositories are
 * reachable on some machines), as one-line `deb` entries; Debian's defaults when there are none.
 */
export function debianSources(suite = BASE_RECIPE.suite, aptDir = "/etc/apt"): string[] {
  const entries: string[] = [];
  const files: string[] = [];
  if (existsSync(join(aptDir, "sources.list"))) files.push(join(aptDir, "sources.list"));
  const dropins = join(aptDir, "sources.list.d");
  if (existsSync(dropins)) {
    for (const f of readdirSync(dropins).sort()) files.push(join(dropins, f));
  }
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (file.endsWith(".sources")) {
      for (const para of text.split(/\n\s*\n/)) {
        const field = (name: string) =>
          para
            .split("\n")
            .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
            ?.slice(name.length + 1)
            .trim();
        const types = field("Types") ?? "";
        const enabled = (field("Enabled") ?? "yes").toLowerCase() !== "no";
        if (!enabled || !types.split(/\s+/).includes("deb")) continue;
        const uris = (field("URIs") ?? "").split(/\s+/).filter(Boolean);
        const suites = (field("Suites") ?? "").split(/\s+/).filter(Boolean);
        const components = field("Components") ?? "main";
        for (const uri of uris) {
          for (const s of suites) {
            if (s === suite || s.startsWith(`${suite}-`)) entries.push(`deb ${uri} ${s} ${components}`);
          }
        }
      }
    } else if (file.endsWith(".list")) {
      for (const raw of text.split("\n")) {
        const line = raw
          .replace(/#.*/, "")
          .replace(/\[[^\]]*\]/, "")
          .trim();
        const parts = line.split(/\s+/);
        if (parts[0] !== "deb" || parts.length < 3) continue;
        const s = parts[2]!;
        if (s === suite || s.startsWith(`${suite}-`)) entries.push(parts.join(" "));
      }
    }
  }
  if (entries.length > 0) return [...new Set(entries)];
  return [
    `deb http://deb.debian.org/debian ${suite} main`,
    `deb http://deb.debian.org/debian ${suite}-updates main`,
    `deb http://deb.debian.org/debian-security ${suite}-security main`,
  ];
}

export interface BaseImage {
  hash: string;
  tarball: string;
  /** The extracted root filesystem, used read-only as every host's overlay lower layer. */
  rootfs: string;
  /** Seconds spent building (mmdebstrap) in this call; 0 when the cached tarball was used. */
  buildSeconds: number;
  /** Seconds spent extracting in this call; 0 when the extracted tree was cached. */
  extractSeconds: number;
}

export interface EnsureBaseOptions {
  cacheDir?: string;
  /** apt `deb` lines; defaults to the machine's own Debian sources. */
  sources?: string[];
  /** Rebuild even when cached. */
  rebuild?: boolean;
  onLog?: (line: string) => void;
}

export function baseImagePaths(cacheDir = defaultCacheDir(), hash = baseRecipeHash()) {
  return { tarball: join(cacheDir, `base-${hash}.tar`), rootfs: join(cacheDir, `base-${hash}`) };
}

/** Builds (once) and extracts (once) the base root filesystem for the current recipe. */
export async function ensureBaseImage(options: EnsureBaseOptions = {}): Promise<BaseImage> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const hash = baseRecipeHash();
  const { tarball, rootfs } = baseImagePaths(cacheDir, hash);
  const log = options.onLog ?? (() => {});
  mkdirSync(cacheDir, { recursive: true });
  let buildSeconds = 0;
  let extractSeconds = 0;
  if (options.rebuild) {
    rmSync(tarball, { force: true });
    rmSync(rootfs, { recursive: true, force: true });
  }
  if (!existsSync(tarball)) {
    assertPrerequisites({ needBaseBuild: true });
    const sources = options.sources ?? debianSources();
    log(
      `[base] building ${tarball} with mmdebstrap (${BASE_RECIPE.suite}, ${BASE_PACKAGES.length} packages)`,
    );
    const started = performance.now();
    const tmp = `${tarball}.tmp-${process.pid}`;
    try {
      await mmdebstrap(tmp, sources, log);
      renameSync(tmp, tarball);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new LabError(
        "LAB_BASE_BUILD_FAILED",
        `mmdebstrap could not build the base root filesystem: ${(err as Error).message}`,
        {
          step: "base",
          hint: `check that these apt sources are reachable: ${sources.join("; ")} (or pass other sources)`,
          cause: err,
        },
      );
    }
    buildSeconds = (performance.now() - started) / 1000;
    log(`[base] built in ${buildSeconds.toFixed(1)} s (${(statSync(tarball).size / 1e6).toFixed(0)} MB)`);
  }
  if (!existsSync(join(rootfs, "usr", "lib", "systemd", "systemd"))) {
    const started = performance.now();
    const tmp = `${rootfs}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(rootfs, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      await runOk("tar", ["--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf", tarball, "-C", tmp]);
      renameSync(tmp, rootfs);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw new LabError("LAB_BASE_BUILD_FAILED", `could not extract ${tarball}: ${(err as Error).message}`, {
        step: "base",
        hint: `delete ${tarball} so it is rebuilt, and check free space in ${cacheDir}`,
        cause: err,
      });
    }
    extractSeconds = (performance.now() - started) / 1000;
    log(`[base] extracted in ${extractSeconds.toFixed(1)} s`);
  }
  return { hash, tarball, rootfs, buildSeconds, extractSeconds };
}

function mmdebstrap(target: string, sources: string[], log: (line: string) => void): Promise<void> {
  const args = [
    `--variant=${BASE_RECIPE.variant}`,
    "--format=tar",
    `--include=${BASE_RECIPE.packages.join(",")}`,
    `--customize-hook=${BASE_RECIPE.customize}`,
    BASE_RECIPE.suite,
    target,
    ...sources,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("mmdebstrap", args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const onData = (d: Buffer) => {
      const text = d.toString("utf8");
      tail = (tail + text).slice(-2000);
      for (const line of text.split("\n")) if (line.trim()) log(`[base] ${line.trim()}`);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`exited with ${code}: ${tail.trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}
