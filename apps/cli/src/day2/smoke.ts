import {
  BUSYBOX_IMAGE,
  defaultSmokeTestNodePort,
  type KubeObject,
  MANAGED_BY_LABEL,
  NGINX_IMAGE,
  renderObjectsYaml,
  SMOKE_TEST_SECRET,
  smokeTestObjects,
} from "@khw/addons";
import { KUBECONFIG_PATHS } from "@khw/kubeconfig";
import type { ExecResult, Executor, HostTarget } from "@khw/remote-exec";
import { type Cluster, type ClusterNode, NODE_DIRS, NODE_FILES } from "@khw/spec/core";
import { BINARY_PATHS, PKI_PATHS } from "@khw/systemd-units";
import { applyHost } from "../up/phases";
import { describeError, type Hosts } from "./remote";

export type SmokeOutcome = "pass" | "fail" | "could-not-run";

export interface SmokeResult {
  id: SmokeTestId;
  title: string;
  outcome: SmokeOutcome;
  /** What was seen (pass), what went wrong (fail) or why it could not run. */
  detail: string;
  hint?: string;
}

/** The smoke tests of REFERENCE.md, in order (their code is the catalogue `SMOKE_TESTS` below). */
const SMOKE_TEST_IDS = [
  "api",
  "encryption-at-rest",
  "deployment",
  "logs",
  "exec",
  "port-forward",
  "nodeport",
  "pod-network",
  "dns",
  "ha",
  "leader-election",
] as const;

export type SmokeTestId = (typeof SMOKE_TEST_IDS)[number];

export const SMOKE_NAMESPACE = "khw-smoke";
export const SMOKE_MANIFEST = `${NODE_DIRS.khw}/smoke/smoke.yaml`;
const KUBECTL = `${BINARY_PATHS.kubectl} --kubeconfig ${KUBECONFIG_PATHS.admin}`;
const ETCDCTL = BINARY_PATHS.etcdctl;

export interface SmokeOptions {
  nginxImage?: string;
  busyboxImage?: string;
  /** Seconds to wait for the Deployment and the busybox pod. */
  timeoutSeconds: number;
  /** Run the HA test (stops one apiserver for a moment). */
  ha: boolean;
  /** Leave the smoke-test objects in the cluster. */
  keep: boolean;
  /** Local port on the control plane for the port-forward test. */
  portForwardPort?: number;
}

/** The pod-network test's client: busybox on a worker without the nginx pod (required pod anti-affinity). */
export const NET_CLIENT_POD = "net-client";
/** At most this long `nodeport` asks the workers again before it fails (kube-proxy may still be catching up). */
const NODEPORT_WAIT_SECONDS = 60;

/**
 * The objects the smoke tests apply: the namespace, then @khw/addons' smoke-test objects in it (images from
 * the spec's addons.images unless overridden), and with 2+ workers the pod-network test's client pod.
 */
export function smokeObjects(cluster: Cluster, options: Pick<SmokeOptions, "nginxImage" | "busyboxImage">) {
  const ns: KubeObject = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: SMOKE_NAMESPACE, labels: { ...MANAGED_BY_LABEL } },
  } as unknown as KubeObject;
  const busyboxImage = options.busyboxImage ?? cluster.spec.addons.images.busybox ?? BUSYBOX_IMAGE;
  const client: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: NET_CLIENT_POD, namespace: SMOKE_NAMESPACE, labels: { ...MANAGED_BY_LABEL } },
    spec: {
      // symmetric: the scheduler also keeps nginx off this pod's node, whichever is scheduled first
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: "nginx" } }, topologyKey: "kubernetes.io/hostname" },
          ],
        },
      },
      containers: [{ name: "busybox", image: busyboxImage, command: ["sleep", "3600"] }],
    },
  };
  return [
    ns,
    ...smokeTestObjects({
      nodePort: defaultSmokeTestNodePort(cluster.network.nodePortRange),
      namespace: SMOKE_NAMESPACE,
      nginxImage: options.nginxImage ?? cluster.spec.addons.images.nginx ?? NGINX_IMAGE,
      busyboxImage,
    }),
    ...(cluster.workers.length >= 2 ? [client] : []),
  ] as KubeObject[];
}

const tail = (text: string, n = 6) => text.trim().split("\n").slice(-n).join("\n");

/** Known failure signatures → what to do (REFERENCE.md's top failure reports). */
export function kubeletAccessHint(output: string): string | undefined {
  if (/Forbidden|forbidden/.test(output)) {
    return "the apiserver's kubelet client is not allowed: bind system:kube-apiserver-to-kubelet to the user its certificate presents (CN kube-apiserver-kubelet-client) — `khw up --only rbac`";
  }
  if (/x509|certificate|tls:/.test(output)) {
    return "the kubelet's serving certificate is not trusted: for tls-bootstrap workers approve the kubelet-serving CSR (`kubectl get csr`)";
  }
  if (/10\.0\.2\.15|no route to host|i\/o timeout|connection refused/.test(output)) {
    return "the apiserver cannot reach the kubelet at the node's InternalIP: check `kubectl get nodes -o wide` (the NAT address 10.0.2.15 means --node-ip is missing)";
  }
  return undefined;
}

/** What a smoke test found. `blocks`: what the tests that need this one say when it did not pass. */
interface Verdict {
  outcome: SmokeOutcome;
  detail: string;
  hint?: string | undefined;
  blocks?: { reason: string; hint?: string | undefined };
}

/** What every test gets: the cluster, the first control plane and a way to run a script there. */
interface SmokeContext {
  cluster: Cluster;
  hosts: Hosts;
  options: SmokeOptions;
  master: ClusterNode;
  target: HostTarget;
  ex: Executor;
  /** A script on the first control plane (sudo); a lost connection or a timeout comes back as a failed result. */
  sh(script: string, args?: string[], timeoutSeconds?: number): Promise<ExecResult>;
  /** The running nginx pod, once `deployment` passed. */
  pod: string;
}

/** A smoke test: what it proves, what must pass before it, when it does not apply, and how it runs. */
export interface SmokeTest {
  id: SmokeTestId;
  title: string;
  /** Tests (or `objects`: the smoke-test objects applied) that must pass first; `api` is always needed. */
  needs: readonly (SmokeTestId | "objects")[];
  /** Why it cannot run on this cluster or with these options (checked after `needs`). */
  skip?: (ctx: SmokeContext) => string | undefined;
  run: (ctx: SmokeContext) => Promise<Verdict>;
}

const pass = (detail: string): Verdict => ({ outcome: "pass", detail });
const fail = (detail: string, hint?: string): Verdict => ({ outcome: "fail", detail, hint });

/** `api`: /readyz through the admin kubeconfig on the first control plane. */
async function apiTest(ctx: SmokeContext): Promise<Verdict> {
  let r: ExecResult;
  try {
    r = await ctx.ex.shell(ctx.target, `${KUBECTL} get --raw /readyz 2>&1`, {
      sudo: true,
      check: false,
      timeoutMs: 30_000,
    });
  } catch (e) {
    const d = describeError(e);
    const reason = `cannot run commands on ${ctx.master.name}: ${d.message}`;
    return { outcome: "could-not-run", detail: reason, hint: d.hint, blocks: { reason, hint: d.hint } };
  }
  if (r.code === 0 && /^ok/m.test(r.stdout)) return pass(`${ctx.master.name}: /readyz ok`);
  const missing = /not found|No such file/.test(r.stdout + r.stderr);
  return {
    ...fail(
      `${ctx.master.name}: ${tail(r.stdout + r.stderr, 3) || `exit ${r.code}`}`,
      missing
        ? "kubectl or the admin kubeconfig is missing on the control plane: `khw up`"
        : "check `journalctl -u kube-apiserver` on the control planes",
    ),
    blocks: { reason: `the API does not answer on ${ctx.master.name}`, hint: "fix the `api` test first" },
  };
}

/** Reads the smoke Secret straight from etcd: it must start with the aescbc provider's prefix. */
const ENCRYPTION_SCRIPT = [
  `if [ ! -x ${ETCDCTL} ]; then echo "no-etcdctl"; exit 0; fi`,
  // No ETCDCTL_API=3: etcdctl 3.6 warns about it on stderr, which 2>&1 would put in front of the value.
  `${ETCDCTL} --endpoints=https://127.0.0.1:2379 --cacert=${PKI_PATHS.etcdCa} --cert=${PKI_PATHS.etcdServer} --key=${PKI_PATHS.etcdServerKey} get "$1" --print-value-only 2>&1 | head -c 64 | tr -c '[:print:]' '.'`,
].join("\n");

async function encryptionTest(ctx: SmokeContext): Promise<Verdict> {
  const key = `/registry/secrets/${SMOKE_NAMESPACE}/${SMOKE_TEST_SECRET}`;
  const value = (await ctx.sh(ENCRYPTION_SCRIPT, [key], 30)).stdout.trim();
  if (value === "no-etcdctl") {
    return {
      outcome: "could-not-run",
      detail: `${ETCDCTL} is not installed on ${ctx.master.name}`,
      hint: "`khw up --only etcd` installs it",
    };
  }
  if (value.startsWith("k8s:enc:aescbc:v1:key1:")) {
    return pass(`etcd ${key} starts with k8s:enc:aescbc:v1:key1`);
  }
  if (value === "") {
    return fail(`etcd has no value at ${key}`, "is the apiserver using this etcd (--etcd-servers)?");
  }
  return fail(
    `etcd ${key} is not encrypted with aescbc key1 (starts with '${value.slice(0, 24)}')`,
    `the apiserver needs --encryption-provider-config=${NODE_FILES.encryptionConfig} (kind EncryptionConfiguration, aescbc first)`,
  );
}

async function deploymentTest(ctx: SmokeContext): Promise<Verdict> {
  const { timeoutSeconds } = ctx.options;
  const d = await ctx.sh(
    `${KUBECTL} -n ${SMOKE_NAMESPACE} rollout status deployment/nginx --timeout="$1"s 2>&1; rc=$?; echo "rc=$rc"; ` +
      `${KUBECTL} -n ${SMOKE_NAMESPACE} get pods -l app=nginx -o wide --no-headers 2>&1; ` +
      `echo "pod=$(${KUBECTL} -n ${SMOKE_NAMESPACE} get pods -l app=nginx --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)"`,
    [String(timeoutSeconds)],
    timeoutSeconds + 60,
  );
  ctx.pod = /^pod=(\S+)$/m.exec(d.stdout)?.[1] ?? "";
  if (/^rc=0$/m.test(d.stdout) && ctx.pod) return pass(`deployment/nginx ready (pod ${ctx.pod})`);
  return {
    ...fail(
      `deployment/nginx not ready within ${timeoutSeconds}s: ${tail(d.stdout.replace(/^(rc|pod)=.*$/gm, ""))}`,
      "look at `kubectl -n khw-smoke describe pods` (image pull? pod network? containerd cgroup driver?)",
    ),
    blocks: { reason: "the nginx Deployment is not ready (see `deployment`)" },
  };
}

/** `logs` and `exec` on the nginx pod: the apiserver → kubelet path (RBAC, the kubelet's serving cert). */
function kubeletTest(id: "logs" | "exec", script: string, expect?: RegExp): SmokeTest["run"] {
  return async (ctx) => {
    const x = await ctx.sh(script, [ctx.pod], 60);
    const out = x.stdout + x.stderr;
    if (x.code === 0 && (expect === undefined || expect.test(out))) {
      return pass(id === "exec" ? tail(out, 1) : `kubectl logs ${ctx.pod} answered`);
    }
    return fail(`kubectl ${id} ${ctx.pod}: ${tail(out, 3)}`, kubeletAccessHint(out));
  };
}

const PORT_FORWARD_SCRIPT = [
  'command -v curl >/dev/null 2>&1 || { echo "no-curl"; exit 0; }',
  `${KUBECTL} -n ${SMOKE_NAMESPACE} port-forward "pod/$1" "$2":80 >/tmp/khw-smoke-pf.log 2>&1 & pf=$!`,
  'i=0; code=000; while [ $i -lt 30 ]; do code=$(curl -s -m 3 -o /dev/null -w "%{http_code}" "http://127.0.0.1:$2/"); [ "$code" = 200 ] && break; i=$((i+1)); sleep 0.5; done',
  'kill $pf 2>/dev/null; wait $pf 2>/dev/null; echo "code=$code"; tail -n 3 /tmp/khw-smoke-pf.log; rm -f /tmp/khw-smoke-pf.log',
].join("\n");

async function portForwardTest(ctx: SmokeContext): Promise<Verdict> {
  const port = String(ctx.options.portForwardPort ?? 18080);
  const pf = await ctx.sh(PORT_FORWARD_SCRIPT, [ctx.pod, port], 60);
  if (/^no-curl$/m.test(pf.stdout)) {
    return { outcome: "could-not-run", detail: `curl is not installed on ${ctx.master.name}` };
  }
  if (/^code=200$/m.test(pf.stdout)) return pass(`127.0.0.1:${port} → ${ctx.pod}:80 answered 200`);
  return fail(`port-forward to ${ctx.pod}: ${tail(pf.stdout, 4)}`, kubeletAccessHint(pf.stdout));
}

/**
 * Every worker's NodePort, asked again until all answer 200 or the deadline passes: kube-proxy programs a
 * new Service within seconds, but after an apiserver failover its watch may reconnect with backoff.
 */
const NODEPORT_SCRIPT = [
  'command -v curl >/dev/null 2>&1 || { echo "no-curl"; exit 0; }',
  "t0=$(date +%s); deadline=$((t0 + $2)); port=$1; shift 2",
  'while :; do out=""; ok=1; for ip in "$@"; do c=$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://$ip:$port/"); out="$out$ip $c\n"; [ "$c" = 200 ] || ok=0; done',
  "  [ $ok = 1 ] && break; [ $(date +%s) -ge $deadline ] && break; sleep 2; done",
  'printf "%swaited=%s\\n" "$out" $(( $(date +%s) - t0 ))',
].join("\n");

async function nodePortTest(ctx: SmokeContext): Promise<Verdict> {
  const { cluster } = ctx;
  const nodePort = defaultSmokeTestNodePort(cluster.network.nodePortRange);
  const wait = Math.min(NODEPORT_WAIT_SECONDS, ctx.options.timeoutSeconds);
  const np = await ctx.sh(
    NODEPORT_SCRIPT,
    [String(nodePort), String(wait), ...cluster.workers.map((w) => w.address)],
    wait + 30 + cluster.workers.length * 6,
  );
  if (/^no-curl$/m.test(np.stdout)) {
    return { outcome: "could-not-run", detail: `curl is not installed on ${ctx.master.name}` };
  }
  const codes = new Map(
    np.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(" ") as [string, string]),
  );
  const waited = Number(/^waited=(\d+)$/m.exec(np.stdout)?.[1] ?? 0);
  const per = cluster.workers
    .map((w) => `${w.name} ${w.address}:${nodePort} → ${codes.get(w.address) ?? "no answer"}`)
    .join("; ");
  if (cluster.workers.every((w) => codes.get(w.address) === "200")) {
    return pass(per + (waited > 2 ? ` (all answered after ${waited} s)` : ""));
  }
  return fail(
    `${per} (asked for ${waited} s)`,
    "kube-proxy on the failing workers (`journalctl -u kube-proxy`), or the pod network between workers",
  );
}

/** net-client (never on nginx's node) → the nginx pod IP, then → the Service IP. */
function podNetworkScript(): string {
  const q = `${KUBECTL} -n ${SMOKE_NAMESPACE}`;
  // busybox's own timeout applet, not `wget -T` (Debian's busybox-static 1.35 wget crashes on -T).
  return [
    `${q} wait --for=condition=Ready pod/${NET_CLIENT_POD} --timeout="$2"s >/dev/null 2>&1 || { echo "not-ready"; ${q} get pod ${NET_CLIENT_POD} -o wide 2>&1 | tail -n 1; exit 0; }`,
    `podip=$(${q} get pod "$1" -o jsonpath='{.status.podIP}'); node=$(${q} get pod "$1" -o jsonpath='{.spec.nodeName}')`,
    `cnode=$(${q} get pod ${NET_CLIENT_POD} -o jsonpath='{.spec.nodeName}')`,
    `svc=$(${q} get service nginx -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')`,
    'echo "nodes=$cnode->$node"',
    `${q} exec ${NET_CLIENT_POD} -- timeout 5 wget -q -O /dev/null "http://$podip/" >/tmp/khw-smoke-net.log 2>&1 && echo "pod=ok $podip" || echo "pod=fail $podip $(tail -n 2 /tmp/khw-smoke-net.log | tr '\\n' ' ')"`,
    `${q} exec ${NET_CLIENT_POD} -- timeout 5 wget -q -O /dev/null "http://$svc/" >/tmp/khw-smoke-net.log 2>&1 && echo "svc=ok $svc" || echo "svc=fail $svc $(tail -n 2 /tmp/khw-smoke-net.log | tr '\\n' ' ')"`,
    "rm -f /tmp/khw-smoke-net.log",
  ].join("\n");
}

async function podNetworkTest(ctx: SmokeContext): Promise<Verdict> {
  const { pod } = ctx;
  const n = await ctx.sh(
    podNetworkScript(),
    [pod, String(ctx.options.timeoutSeconds)],
    ctx.options.timeoutSeconds + 60,
  );
  const line = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(n.stdout)?.[1] ?? "";
  const [from, to] = line("nodes").split("->");
  if (/^not-ready$/m.test(n.stdout)) {
    return { outcome: "could-not-run", detail: `pod ${NET_CLIENT_POD} not ready: ${tail(n.stdout, 1)}` };
  }
  if (!from || from === to) {
    return fail(`${NET_CLIENT_POD} and ${pod} are not on different workers (${line("nodes")})`);
  }
  if (line("pod").startsWith("ok") && line("svc").startsWith("ok")) {
    return pass(`${from} → ${to}: pod ${line("pod").slice(3)} and Service ${line("svc").slice(3)} answered`);
  }
  return fail(
    `${from} → ${to}: pod ${line("pod")}; Service ${line("svc")}`,
    /applet not found|executable file not found|wget: not found/.test(n.stdout)
      ? "the busybox image has no wget (addons.images.busybox must be a real busybox)"
      : "the pod network between workers: `kubectl -n kube-flannel logs ds/kube-flannel-ds` (flannel), routes (bridge-routes), and kube-proxy for the Service IP",
  );
}

async function dnsTest(ctx: SmokeContext): Promise<Verdict> {
  const { cluster, options } = ctx;
  // kubernetes.default: the pod's namespace is khw-smoke, where a bare `kubernetes` never reaches the API Service.
  // Asked as the name the pod's search path makes of it (kubernetes.default.svc.<domain>): busybox since 1.29
  // resolves by itself and does not search for a name with a dot; busybox's shell shows the search path.
  const fqdn = `kubernetes.default.svc.${cluster.network.clusterDomain}`;
  const d = await ctx.sh(
    `${KUBECTL} -n ${SMOKE_NAMESPACE} wait --for=condition=Ready pod/busybox --timeout="$1"s 2>&1 || exit 3\n` +
      `${KUBECTL} -n ${SMOKE_NAMESPACE} exec busybox -- sh -c 'grep "^search" /etc/resolv.conf; nslookup "$0"' "$2" 2>&1`,
    [String(options.timeoutSeconds), fqdn],
    options.timeoutSeconds + 60,
  );
  const ip = cluster.network.apiServiceIP;
  if (d.code === 3)
    return { outcome: "could-not-run", detail: `pod busybox not ready: ${tail(d.stdout, 2)}` };
  if (new RegExp(`Address( 1)?:\\s+${ip.replace(/\./g, "\\.")}(\\s|$)`, "m").test(d.stdout)) {
    return pass(`${fqdn} resolves to ${ip}`);
  }
  return fail(
    `nslookup ${fqdn}: ${tail(d.stdout, 4)}`,
    "CoreDNS pods running? (`kubectl -n kube-system get pods -l k8s-app=kube-dns`); a loop with systemd-resolved needs resolvConf /run/systemd/resolve/resolv.conf",
  );
}

/** Five requests in a row through the load balancer must succeed (40 tries at most). */
const HA_SCRIPT = [
  "ok=0; n=0; while [ $n -lt 40 ]; do n=$((n+1));",
  `  if ${KUBECTL} --server "$1" get nodes --request-timeout=3s >/dev/null 2>&1; then ok=$((ok+1)); else ok=0; fi;`,
  '  [ $ok -ge 5 ] && break; sleep 1; done; echo "consecutive=$ok tries=$n"',
].join("\n");

/** One apiserver stopped (the last control plane's), kubectl through the LB; the apiserver is always started again. */
async function haTest(ctx: SmokeContext): Promise<Verdict> {
  const { cluster, ex } = ctx;
  const victim = cluster.controlPlanes.at(-1)!;
  const vt: HostTarget = ctx.hosts.target(victim);
  let verdict: Verdict;
  let stopped = false;
  try {
    await ex.exec(vt, ["systemctl", "stop", "kube-apiserver"], { sudo: true });
    stopped = true;
    const h = await ctx.sh(HA_SCRIPT, [cluster.api.url], 120);
    const m = /consecutive=(\d+) tries=(\d+)/.exec(h.stdout);
    verdict =
      m && Number(m[1]) >= 5
        ? pass(
            `kube-apiserver stopped on ${victim.name}; 5 requests in a row through ${cluster.api.url} succeeded (${m[2]} tries)`,
          )
        : fail(
            `with kube-apiserver stopped on ${victim.name}, kubectl through ${cluster.api.url} kept failing: ${tail(h.stdout, 2)}`,
            "HAProxy must health-check the apiservers (`option tcp-check`, `check fall 3 rise 2`) to stop sending to a dead one",
          );
  } catch (e) {
    const d = describeError(e);
    verdict = {
      outcome: "could-not-run",
      detail: `could not stop kube-apiserver on ${victim.name}: ${d.message}`,
      hint: d.hint,
    };
  }
  if (stopped) {
    try {
      await ex.exec(vt, ["systemctl", "start", "kube-apiserver"], { sudo: true });
    } catch (e) {
      verdict = {
        outcome: "fail",
        detail: `${verdict.detail}; and kube-apiserver on ${victim.name} did not start again: ${describeError(e).message}`,
        hint: `start it: ssh ${victim.name} systemctl start kube-apiserver`,
      };
    }
  }
  return verdict;
}

async function leaderElectionTest(ctx: SmokeContext): Promise<Verdict> {
  const l = await ctx.sh(
    `${KUBECTL} -n kube-system get lease kube-controller-manager kube-scheduler -o jsonpath='{range .items[*]}{.metadata.name}={.spec.holderIdentity}{"\\n"}{end}' 2>&1`,
    [],
    30,
  );
  const holders = new Map(
    l.stdout
      .trim()
      .split("\n")
      .filter((x) => x.includes("="))
      .map((x) => x.split("=") as [string, string]),
  );
  const masterOf = (holder: string | undefined) =>
    holder
      ? ctx.cluster.controlPlanes.find((m) => holder === m.name || holder.startsWith(`${m.name}_`))?.name
      : undefined;
  const cm = holders.get("kube-controller-manager");
  const sc = holders.get("kube-scheduler");
  if (l.code !== 0) return fail(`reading the leases failed: ${tail(l.stdout, 2)}`);
  if (masterOf(cm) && masterOf(sc)) {
    return pass(`kube-controller-manager leader ${masterOf(cm)}, kube-scheduler leader ${masterOf(sc)}`);
  }
  return fail(
    `leases: kube-controller-manager=${cm || "none"}, kube-scheduler=${sc || "none"}`,
    "both run with --leader-elect=true on every control plane; a holder that is not a control plane's name is stale",
  );
}

const noWorkers = (ctx: SmokeContext) =>
  ctx.cluster.workers.length === 0 ? "the spec has no workers to run pods" : undefined;

/** Each smoke test: what it proves, what it needs, and its code (a Record: a new id without a test does not compile). */
const CATALOGUE: Record<SmokeTestId, Omit<SmokeTest, "id">> = {
  api: { title: "the API answers (/readyz through the admin kubeconfig)", needs: [], run: apiTest },
  "encryption-at-rest": {
    title: "a Secret is stored encrypted in etcd (k8s:enc:aescbc:v1:key1)",
    needs: ["objects"],
    run: encryptionTest,
  },
  deployment: {
    title: "an nginx Deployment becomes ready",
    needs: ["objects"],
    skip: noWorkers,
    run: deploymentTest,
  },
  logs: {
    title: "kubectl logs works (apiserver → kubelet)",
    needs: ["deployment"],
    run: kubeletTest("logs", `${KUBECTL} -n ${SMOKE_NAMESPACE} logs "$1" --tail=3 2>&1`),
  },
  exec: {
    title: "kubectl exec works",
    needs: ["deployment"],
    // a real nginx's answer (`nginx version: nginx/1.27.3`), not just any program naming itself
    run: kubeletTest(
      "exec",
      `${KUBECTL} -n ${SMOKE_NAMESPACE} exec "$1" -- nginx -v 2>&1`,
      /^nginx version: nginx\/\d+\.\d+\.\d+/m,
    ),
  },
  "port-forward": { title: "kubectl port-forward works", needs: ["deployment"], run: portForwardTest },
  nodeport: { title: "a NodePort Service answers on every worker", needs: ["deployment"], run: nodePortTest },
  "pod-network": {
    title: "a pod reaches the nginx pod on another worker, directly and through its Service IP",
    needs: ["deployment"],
    skip: (ctx) => (ctx.cluster.workers.length < 2 ? "needs at least 2 workers" : undefined),
    run: podNetworkTest,
  },
  dns: {
    title: "busybox resolves `kubernetes.default` to the API service IP",
    needs: ["objects"],
    skip: (ctx) =>
      !ctx.cluster.spec.addons.dns ? "DNS is off in the spec (addons.dns: false)" : noWorkers(ctx),
    run: dnsTest,
  },
  ha: {
    title: "with one apiserver stopped, kubectl through the load balancer still works",
    needs: [],
    skip: (ctx) =>
      !ctx.options.ha
        ? "skipped by --no-ha"
        : ctx.cluster.controlPlanes.length < 2 || !ctx.cluster.loadBalancer
          ? "needs at least 2 control planes behind a load balancer"
          : undefined,
    run: haTest,
  },
  "leader-election": {
    title: "one controller-manager and one scheduler hold the leader leases",
    needs: [],
    run: leaderElectionTest,
  },
};

/** The smoke tests of REFERENCE.md, in order. */
export const SMOKE_TESTS: readonly SmokeTest[] = SMOKE_TEST_IDS.map((id) => ({ id, ...CATALOGUE[id] }));

/**
 * The previous run's namespace may still be terminating (it is deleted without waiting): applying into it
 * fails, so wait for it to be gone first (at once when there is none). A new namespace's pods are refused
 * until the controller-manager created its default ServiceAccount (seconds, more while a controller-manager
 * takes over the leader lease): the apply is retried on exactly those two refusals, for up to 60 s.
 */
const APPLY_SCRIPT = [
  `${KUBECTL} wait --for=delete namespace/${SMOKE_NAMESPACE} --timeout=90s >/dev/null 2>&1`,
  "i=0; while :; do",
  `  out=$(${KUBECTL} apply -f "$1" 2>&1); rc=$?`,
  "  [ $rc -eq 0 ] && break; i=$((i+1)); [ $i -ge 30 ] && break",
  '  case "$out" in *serviceaccount*"not found"*|*"being terminated"*) sleep 2 ;; *) break ;; esac',
  'done; printf "%s\\n" "$out"; exit $rc',
].join("\n");

/** Applies the smoke-test objects (the namespace, nginx, its Services, busybox, the Secret). */
async function applyObjects(ctx: SmokeContext): Promise<Verdict> {
  const yaml = renderObjectsYaml(smokeObjects(ctx.cluster, ctx.options));
  let applied: ExecResult;
  try {
    await ctx.ex.upload(ctx.target, { path: SMOKE_MANIFEST, content: yaml, mode: 0o600, sudo: true });
    applied = await ctx.sh(APPLY_SCRIPT, [SMOKE_MANIFEST], 180);
  } catch (e) {
    applied = { code: 1, stdout: describeError(e).message, stderr: "" };
  }
  if (applied.code === 0) return pass("applied");
  const reason = `applying the smoke-test objects failed: ${tail(applied.stdout + applied.stderr, 3)}`;
  return { outcome: "fail", detail: reason, blocks: { reason } };
}

/**
 * Runs the smoke tests from the first control plane (kubectl with the admin kubeconfig there, etcdctl
 * against the local etcd), in catalogue order. Never throws for a cluster problem: each test passes,
 * fails, or says why it could not run (a test whose `needs` did not pass is not run, and says which).
 */
export async function runSmoke(
  cluster: Cluster,
  hosts: Hosts,
  options: SmokeOptions,
): Promise<SmokeResult[]> {
  const master = applyHost(cluster);
  const target = hosts.target(master);
  const ex = hosts.executor;
  const ctx: SmokeContext = {
    cluster,
    hosts,
    options,
    master,
    target,
    ex,
    pod: "",
    async sh(script, args = [], timeoutSeconds = 60) {
      try {
        return await ex.shell(target, script, {
          sudo: true,
          args,
          check: false,
          timeoutMs: timeoutSeconds * 1000,
        });
      } catch (e) {
        return { code: null, stdout: describeError(e).message, stderr: "" };
      }
    },
  };
  const done = new Map<SmokeTestId | "objects", Verdict>();
  const results: SmokeResult[] = [];
  for (const test of SMOKE_TESTS) {
    let verdict: Verdict | undefined;
    for (const need of test.id === "api" ? [] : ["api" as const, ...test.needs]) {
      if (need === "objects" && !done.has("objects")) done.set("objects", await applyObjects(ctx));
      const v = done.get(need);
      if (v && v.outcome !== "pass") {
        const blocked = v.blocks ?? { reason: `\`${need}\` did not pass (see \`${need}\`)` };
        verdict = { outcome: "could-not-run", detail: blocked.reason, hint: blocked.hint };
        break;
      }
    }
    const skipped = verdict ? undefined : test.skip?.(ctx);
    if (skipped) verdict = { outcome: "could-not-run", detail: skipped };
    verdict ??= await test.run(ctx);
    done.set(test.id, verdict);
    results.push({
      id: test.id,
      title: test.title,
      outcome: verdict.outcome,
      detail: verdict.detail,
      ...(verdict.hint ? { hint: verdict.hint } : {}),
    });
  }
  if (!options.keep && done.get("objects")?.outcome === "pass") {
    await ctx.sh(
      `${KUBECTL} delete namespace ${SMOKE_NAMESPACE} --wait=false >/dev/null 2>&1; rm -f "$1"`,
      [SMOKE_MANIFEST],
      30,
    );
  }
  return results;
}
