/**
 * Lab-only runtime pieces (never for real hosts): inside the lab's systemd-nspawn hosts the cgroup v1 controllers
 * are read-only and keyctl is filtered by nspawn's seccomp filter, so runc as containerd calls it fails. The lab
 * points containerd's runc `BinaryName` at this wrapper (measured: `ctr run` and kubelet pods run; see LAB-PODS.md).
 */
export const LAB_RUNC_WRAPPER_PATH = "/usr/local/sbin/runc-lab";

/** The wrapper script (POSIX sh; sed only): rootless runc, cgroupfs, no cgroupsPath/resources, no new keyring. */
export const LAB_RUNC_WRAPPER =
  '#!/bin/sh\n# khw lab only (never on real hosts): inside the lab\'s systemd-nspawn hosts the cgroup v1 controllers are\n# mounted read-only and keyctl is filtered. containerd calls this instead of runc; it runs runc rootless\n# (cgroup permission/read-only errors ignored) with the cgroupfs driver, no explicit cgroupsPath (runc only\n# ignores those errors when the path is unset) and no new session keyring. Containers get no cgroup limits.\nbundle=""\nprev=""\nsub=""\nfor a in "$@"; do\n  [ "$prev" = "--bundle" ] || [ "$prev" = "-b" ] && bundle="$a"\n  case "$a" in --bundle=*) bundle="${a#--bundle=}" ;; esac\n  prev="$a"\ndone\nif [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then\n  sed -i -e \'s/"cgroupsPath":/"khwLabDroppedCgroupsPath":/\' -e \'s/"resources":/"khwLabDroppedResources":/\' "$bundle/config.json"\nfi\nn=$#\ni=0\nfor a in "$@"; do\n  i=$((i + 1))\n  shift\n  case "$a" in\n    --systemd-cgroup) ;;\n    create | run)\n      if [ -z "$sub" ]; then sub="$a"; set -- "$@" "$a" --no-new-keyring; else set -- "$@" "$a"; fi ;;\n    *) set -- "$@" "$a" ;;\n  esac\ndone\nexec /usr/local/sbin/runc --rootless=true "$@"\n';
