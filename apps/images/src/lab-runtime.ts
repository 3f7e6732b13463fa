/**
 * Lab-only runtime pieces (never for real hosts): inside the lab's systemd-nspawn hosts the cgroup v1 controllers
 * are read-only, nspawn drops CAP_SYS_RESOURCE and filters keyctl, so runc as containerd calls it fails. The lab
 * points containerd's runc `BinaryName` at this wrapper (measured: `ctr run` and kubelet pods run; see LAB-PODS.md).
 */
export const LAB_RUNC_WRAPPER_PATH = "/usr/local/sbin/runc-lab";

/** The real runc the wrapper runs (where khw's workers phase installs it). */
export const LAB_RUNC_PATH = "/usr/local/sbin/runc";

/**
 * The wrapper script (POSIX sh + sed): runc rootless (cgroup errors are ignored only when no cgroupsPath is set),
 * the cgroupfs driver (drops --systemd-cgroup), the bundle's cgroupsPath, resources and a negative oomScoreAdj
 * renamed to keys runc ignores, and --no-new-keyring on create/run. Containers get no cgroup limits (no memory or
 * CPU limits, no per-pod stats) and keep the shim's OOM score.
 */
export const LAB_RUNC_WRAPPER = [
  "#!/bin/sh",
  "# khw lab only (never on real hosts). Inside the lab's systemd-nspawn hosts the cgroup v1 controllers are",
  "# read-only, CAP_SYS_RESOURCE is dropped and keyctl is filtered. containerd runs this instead of runc: runc",
  "# rootless (cgroup errors ignored when no cgroupsPath is set), cgroupfs, without the bundle's cgroupsPath,",
  "# resources and negative oomScoreAdj, and without a new session keyring. Containers get no cgroup limits.",
  'bundle=""',
  'prev=""',
  'sub=""',
  'for a in "$@"; do',
  '  [ "$prev" = "--bundle" ] || [ "$prev" = "-b" ] && bundle="$a"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  '  case "$a" in --bundle=*) bundle="${a#--bundle=}" ;; esac',
  '  prev="$a"',
  "done",
  'if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then',
  '  sed -i -e \'s/"cgroupsPath":/"khwLabDroppedCgroupsPath":/\' -e \'s/"resources":/"khwLabDroppedResources":/\' \\',
  '    -e \'s/"oomScoreAdj":-/"khwLabDroppedOomScoreAdj":-/\' "$bundle/config.json"',
  "fi",
  'for a in "$@"; do',
  "  shift",
  '  case "$a" in',
  "    --systemd-cgroup) ;;",
  "    create | run)",
  '      if [ -z "$sub" ]; then sub="$a"; set -- "$@" "$a" --no-new-keyring; else set -- "$@" "$a"; fi ;;',
  '    *) set -- "$@" "$a" ;;',
  "  esac",
  "done",
  `exec ${LAB_RUNC_PATH} --rootless=true "$@"`,
  "",
].join("\n");
