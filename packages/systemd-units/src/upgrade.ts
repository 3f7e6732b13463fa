import { binaryArtifacts, type Cluster, type ClusterNode, isSupportedKubernetes } from "@khw/spec/core";
import { type UnitOptions, unitFilesForNode } from "./catalogue";
import { UnitsError } from "./errors";
import { parseExecCommand } from "./exec";
import {
  assertSupportedKubernetes,
  hasSetting,
  parseVersion,
  SUPPORTED_KUBERNETES,
  VERSION_TABLE,
  type Version,
} from "./versions";

/**
 * The upgrade of a cluster from the Kubernetes version its spec pins to another, as data: what changes
 * on each host (binaries, unit flags, config lines), the version-skew rules of the Kubernetes policy
 * checked, and the ordered steps. Pure: `khw upgrade plan` prints it, `khw upgrade apply` carries it out.
 */
export interface UpgradePlan {
  from: string;
  to: string;
  /** `patch` (same minor), `minor` (the next one), `none` (same version), or `refused`. */
  kind: "none" | "patch" | "minor" | "refused";
  /** True when no check refuses the upgrade. */
  ok: boolean;
  checks: SkewCheck[];
  /** Settings of VERSION_TABLE that appear or go away between the two versions. */
  settings: SettingChange[];
  hosts: HostUpgrade[];
  steps: UpgradeStep[];
  etcd: { from: string; to: string; changes: boolean };
}

/** One rule of the version-skew policy, checked. `ok: false` refuses the upgrade; `fix` says what to do. */
export interface SkewCheck {
  id: SkewRule;
  rule: string;
  ok: boolean;
  message: string;
  fix?: string;
}

export type SkewRule =
  | "known-version"
  | "supported-version"
  | "no-downgrade"
  | "one-minor-at-a-time"
  | "control-planes-first"
  | "kubelet-not-newer-than-apiserver"
  | "kubelet-at-most-3-minors-older"
  | "etcd-untouched";

export interface SettingChange {
  id: string;
  component: string;
  name: string;
  change: "appears" | "goes-away";
  note: string;
}

export interface HostUpgrade {
  host: string;
  role: ClusterNode["role"];
  /** Executables replaced, with the release file paths before and after. */
  binaries: Array<{ id: string; installAs: string[]; from: string; to: string }>;
  /** Generated files whose contents differ between the versions. */
  files: FileChange[];
  /** Services restarted on this host. */
  restarts: string[];
}

export interface FileChange {
  path: string;
  /** Unit files: ExecStart flags added, removed or changed (`--name`). */
  flags?: { added: string[]; removed: string[]; changed: Array<{ name: string; from: string; to: string }> };
  /** Other files: lines only in the old / only in the new rendering. */
  lines?: { removed: string[]; added: string[] };
}

export type UpgradeStep =
  | { kind: "etcd-snapshot"; host: string }
  | { kind: "etcd-member"; host: string }
  | { kind: "control-plane"; host: string; restarts: string[] }
  | { kind: "readyz"; host: string }
  | { kind: "cordon"; host: string }
  | { kind: "drain"; host: string }
  | { kind: "worker"; host: string; restarts: string[] }
  | { kind: "node-ready"; host: string; version: string }
  | { kind: "uncordon"; host: string }
  | { kind: "update-spec"; version: string };

export interface PlanUpgradeOptions {
  /** Rendering options the cluster's files are generated with (allowCgroupV1 changes the kubelet config). */
  unitOptions?: Partial<UnitOptions>;
  /** The etcd version the spec wants after the upgrade (default: unchanged). */
  etcd?: string;
  /**
   * Versions found running (e.g. `kubelet --version` per host): the skew rules are checked against them
   * too. Keyed by host, then component (`kube-apiserver`, `kubelet`, …).
   */
  observed?: Record<string, Partial<Record<string, string>>>;
}

/** A stand-in encryption key: only the version-dependent parts of files are compared, never shown. */
const PLACEHOLDER_KEY = Buffer.alloc(32).toString("base64");

const cmp = (a: Version, b: Version) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;

/** The cluster as it is after the upgrade: the same spec with another Kubernetes (and etcd) version. */
export function clusterAtVersion(cluster: Cluster, kubernetes: string, etcd?: string): Cluster {
  return {
    ...cluster,
    spec: {
      ...cluster.spec,
      versions: { ...cluster.spec.versions, kubernetes, ...(etcd ? { etcd } : {}) },
    },
  };
}

function flagMap(unit: string): Map<string, string> {
  const m = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit);
  const out = new Map<string, string>();
  if (!m) return out;
  for (const arg of parseExecCommand(m[1]!).slice(1)) {
    const eq = arg.indexOf("=");
    out.set(eq > 0 ? arg.slice(0, eq) : arg, eq > 0 ? arg.slice(eq + 1) : "");
  }
  return out;
}

function fileChange(path: string, before: string, after: string): FileChange | undefined {
  if (before === after) return undefined;
  if (path.endsWith(".service")) {
    const a = flagMap(before);
    const b = flagMap(after);
    const flags = {
      added: [...b.keys()].filter((k) => !a.has(k)),
      removed: [...a.keys()].filter((k) => !b.has(k)),
      changed: [...b.entries()]
        .filter(([k, v]) => a.has(k) && a.get(k) !== v)
        .map(([name, to]) => ({ name, from: a.get(name)!, to })),
    };
    return { path, flags };
  }
  const a = before.split("\n");
  const b = after.split("\n");
  return {
    path,
    lines: { removed: a.filter((l) => !b.includes(l)), added: b.filter((l) => !a.includes(l)) },
  };
}

function versionCheck(to: string): { version?: Version; check?: SkewCheck } {
  if (!/^v\d+\.\d+\.\d+$/.test(to)) {
    return {
      check: {
        id: "known-version",
        rule: "the target is a Kubernetes release version",
        ok: false,
        message: `'${to}' is not a Kubernetes release version`,
        fix: "write it like v1.34.4 (with the v and all three numbers)",
      },
    };
  }
  const version = parseVersion(to, "--to");
  if (!isSupportedKubernetes(to) || version.major !== 1) {
    return {
      version,
      check: {
        id: "supported-version",
        rule: `khw knows the flags of Kubernetes ${SUPPORTED_KUBERNETES.from} through ${SUPPORTED_KUBERNETES.through}.x`,
        ok: false,
        message: `Kubernetes ${to} is outside the versions whose flags khw was checked against`,
        fix: `choose a version from ${SUPPORTED_KUBERNETES.from} through ${SUPPORTED_KUBERNETES.through}.x, or a khw release that knows ${to}`,
      },
    };
  }
  return { version };
}

/**
 * Plans the upgrade of `cluster` (at the version its spec pins) to Kubernetes `to`. Never throws for a
 * refused upgrade: the refusals are checks with `ok: false` (and `kind: "refused"`, no steps), each naming
 * its rule and the fix. Throws UnitsError only when the cluster's own version is unknown.
 */
export function planUpgrade(cluster: Cluster, to: string, options: PlanUpgradeOptions = {}): UpgradePlan {
  const from = cluster.spec.versions.kubernetes;
  const fromV = assertSupportedKubernetes(from);
  const etcd = {
    from: cluster.spec.versions.etcd,
    to: options.etcd ?? cluster.spec.versions.etcd,
    changes: (options.etcd ?? cluster.spec.versions.etcd) !== cluster.spec.versions.etcd,
  };
  const checks: SkewCheck[] = [];
  const { version: toV, check } = versionCheck(to);
  if (check) checks.push(check);
  if (toV && !check) {
    const down = cmp(toV, fromV) < 0;
    checks.push({
      id: "no-downgrade",
      rule: "Kubernetes is never downgraded in place",
      ok: !down,
      message: down ? `${to} is older than the cluster's ${from}` : `${to} is not older than ${from}`,
      ...(down
        ? {
            fix: `restore an etcd snapshot taken before the upgrade to ${from} (khw etcd snapshot restore), or stay at ${from}`,
          }
        : {}),
    });
    const skip = toV.minor - fromV.minor;
    checks.push({
      id: "one-minor-at-a-time",
      rule: "control planes move one minor version at a time (kube-apiserver instances at most one minor apart)",
      ok: skip <= 1,
      message:
        skip <= 1
          ? `${from} → ${to} moves ${skip === 1 ? "one minor" : "within the minor"}`
          : `${from} → ${to} skips ${skip - 1} minor version(s)`,
      ...(skip > 1
        ? {
            fix: `upgrade one minor at a time: first to the latest v1.${fromV.minor + 1}.x, then on (khw upgrade apply --to v1.${fromV.minor + 1}.N)`,
          }
        : {}),
    });
    checks.push({
      id: "control-planes-first",
      rule: "every kube-apiserver is upgraded before any kubelet or kube-proxy; controller-manager and scheduler after their local apiserver",
      ok: true,
      message: "the steps upgrade the control planes one by one, then the workers one by one",
    });
    // A downgrade is refused above already: the kubelets are checked against an upgrade only.
    const workerVersions = down
      ? []
      : cluster.workers.map((w) => ({
          host: w.name,
          kubelet: options.observed?.[w.name]?.["kubelet"] ?? from,
        }));
    const newer = workerVersions.filter(
      (w) => /^v\d/.test(w.kubelet) && cmp(parseVersion(w.kubelet), toV) > 0,
    );
    checks.push({
      id: "kubelet-not-newer-than-apiserver",
      rule: "kubelet and kube-proxy are never newer than kube-apiserver",
      ok: newer.length === 0,
      message:
        newer.length === 0
          ? `no kubelet is newer than ${to}`
          : `${newer.map((w) => `${w.host} runs kubelet ${w.kubelet}`).join(", ")}, newer than ${to}`,
      ...(newer.length ? { fix: `upgrade to at least ${newer[0]!.kubelet}` } : {}),
    });
    const old = workerVersions.filter(
      (w) => /^v\d/.test(w.kubelet) && toV.minor - parseVersion(w.kubelet).minor > 3,
    );
    checks.push({
      id: "kubelet-at-most-3-minors-older",
      rule: "a kubelet may be up to three minor versions older than kube-apiserver",
      ok: old.length === 0,
      message:
        old.length === 0
          ? `while the workers wait, their kubelets stay within three minors of ${to}`
          : `${old.map((w) => `${w.host} runs kubelet ${w.kubelet}`).join(", ")}: more than three minors older than ${to}`,
      ...(old.length ? { fix: "upgrade those workers' kubelets first, one minor at a time" } : {}),
    });
    checks.push({
      id: "etcd-untouched",
      rule: "etcd keeps its version unless the spec asks for another",
      ok: true,
      message: etcd.changes
        ? `etcd ${etcd.from} → ${etcd.to}, one member at a time before the control planes`
        : `etcd stays at ${etcd.from}`,
    });
  }
  const ok = checks.every((c) => c.ok);
  const same = ok && to === from;
  const plan: UpgradePlan = {
    from,
    to,
    kind: !ok ? "refused" : same ? "none" : toV!.minor === fromV.minor ? "patch" : "minor",
    ok,
    checks,
    settings: [],
    hosts: [],
    steps: [],
    etcd,
  };
  if (!ok) return plan;

  plan.settings = VERSION_TABLE.filter((s) => s.component !== "containerd").flatMap((s) => {
    const was = hasSetting(s.id, from);
    const is = hasSetting(s.id, to);
    if (was === is) return [];
    return [
      {
        id: s.id,
        component: s.component,
        name: s.name,
        change: is ? ("appears" as const) : ("goes-away" as const),
        note: s.note,
      },
    ];
  });

  const after = clusterAtVersion(cluster, to, options.etcd);
  const unitOptions: UnitOptions = { encryptionKey: PLACEHOLDER_KEY, ...options.unitOptions };
  const beforeBins = binaryArtifacts(cluster);
  const afterBins = binaryArtifacts(after);
  for (const node of cluster.nodes) {
    if (node.role === "loadbalancer") continue;
    const binaries = afterBins
      .filter((a) => a.roles.includes(node.role))
      .flatMap((a) => {
        const b = beforeBins.find((x) => x.id === a.id)!;
        return a.path === b.path
          ? []
          : [{ id: a.id, installAs: Object.values(a.installAs), from: b.path, to: a.path }];
      });
    const oldFiles = unitFilesForNode(cluster, node.name, unitOptions);
    const files = unitFilesForNode(after, node.name, unitOptions).flatMap((f) => {
      if (f.secret) return [];
      const c = fileChange(f.path, oldFiles.find((o) => o.path === f.path)?.contents ?? "", f.contents);
      return c ? [c] : [];
    });
    const restarts = restartsOf(node, binaries, files);
    plan.hosts.push({ host: node.name, role: node.role, binaries, files, restarts });
  }
  if (same) return plan;

  const hostOf = (name: string) => plan.hosts.find((h) => h.host === name)!;
  plan.steps.push({ kind: "etcd-snapshot", host: cluster.controlPlanes[0]!.name });
  if (etcd.changes)
    for (const cp of cluster.controlPlanes) plan.steps.push({ kind: "etcd-member", host: cp.name });
  for (const cp of cluster.controlPlanes) {
    plan.steps.push(
      {
        kind: "control-plane",
        host: cp.name,
        restarts: hostOf(cp.name).restarts.filter((r) => r !== "etcd"),
      },
      { kind: "readyz", host: cp.name },
    );
  }
  for (const w of cluster.workers) {
    plan.steps.push(
      { kind: "cordon", host: w.name },
      { kind: "drain", host: w.name },
      { kind: "worker", host: w.name, restarts: hostOf(w.name).restarts },
      { kind: "node-ready", host: w.name, version: to },
      { kind: "uncordon", host: w.name },
    );
  }
  plan.steps.push({ kind: "update-spec", version: to });
  return plan;
}

const SERVICE_OF_FILE: Array<[RegExp, string]> = [
  [/etcd/, "etcd"],
  [/kube-apiserver|encryption-config/, "kube-apiserver"],
  [/kube-controller-manager/, "kube-controller-manager"],
  [/kube-scheduler/, "kube-scheduler"],
  [/kubelet/, "kubelet"],
  [/kube-proxy/, "kube-proxy"],
  [/containerd|cni/, "containerd"],
];

function restartsOf(node: ClusterNode, binaries: HostUpgrade["binaries"], files: FileChange[]): string[] {
  const names = new Set<string>();
  for (const b of binaries) {
    for (const exe of b.installAs) {
      const base = exe.replace(/^.*\//, "");
      // kubectl and etcdctl/etcdutl run no service.
      if (["kubectl", "etcdctl", "etcdutl"].includes(base)) continue;
      names.add(base);
    }
  }
  for (const f of files) {
    const hit = SERVICE_OF_FILE.find(([re]) => re.test(f.path));
    if (hit) names.add(hit[1]);
  }
  const order =
    node.role === "controlplane"
      ? ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
      : ["containerd", "kubelet", "kube-proxy"];
  return order.filter((s) => names.has(s));
}

/** Throws a UnitsError naming the first refused rule (for callers that want an exception). */
export function assertUpgradeAllowed(plan: UpgradePlan): void {
  const refused = plan.checks.find((c) => !c.ok);
  if (refused) {
    throw new UnitsError(
      "UNSUPPORTED_VERSION",
      "--to",
      `${plan.from} → ${plan.to} refused by rule ${refused.id} (${refused.rule}): ${refused.message}`,
      refused.fix ?? "choose another version",
    );
  }
}
