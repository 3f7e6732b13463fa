/** Hints for the failure modes people hit most (REFERENCE.md), matched on phase and output. */
const HINTS: Array<{ phase?: string; match: RegExp; hint: string }> = [
  {
    match: /sudo: (a password is required|a terminal is required)/,
    hint: "the SSH user needs passwordless sudo (NOPASSWD in /etc/sudoers.d), or log in as root",
  },
  {
    match:
      /x509: certificate is valid for|certificate is not valid for any names|doesn't contain any IP SANs/,
    hint: "a certificate lacks a SAN (LB IP or service IP?): check pki.extraApiserverSANs, run `khw gen` to re-issue, then `khw up --only pki,control-plane`",
  },
  {
    match: /certificate has expired or is not yet valid|not yet valid/,
    hint: "clocks differ between hosts: enable time sync (`timedatectl set-ntp true`) and retry",
  },
  {
    phase: "etcd",
    match: /.*/,
    hint: "etcd members must start close together and reach each other on :2380; check `journalctl -u etcd` for peer URL or certificate errors",
  },
  {
    match: /cgroup/i,
    hint: "containerd and kubelet must both use the systemd cgroup driver (SystemdCgroup = true)",
  },
  { match: /swap/i, hint: "turn swap off: `sudo swapoff -a` and remove it from /etc/fstab" },
  {
    match: /Forbidden.*nodes\/proxy|cannot get resource "nodes\/proxy"/,
    hint: "the apiserver→kubelet RBAC binding must name the kubelet client cert's CN (kube-apiserver-kubelet-client): run `khw up --only rbac`",
  },
  { match: /No space left on device/, hint: "free disk space on the host" },
  {
    match: /Temporary failure resolving|Could not resolve/,
    hint: "the host cannot reach its package mirror; install haproxy and socat by hand or give it internet access",
  },
];

export function failureHint(phase: string, output: string): string | undefined {
  return HINTS.find((h) => (h.phase === undefined || h.phase === phase) && h.match.test(output))?.hint;
}
