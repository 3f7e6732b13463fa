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
import type { ExecResult, HostTarget } from "@khw/remote-exec";
import type { Cluster, ClusterNode } from "@khw/spec";
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

/** The smoke tests of REFERENCE.md, in order. */
export const SMOKE_TESTS = [
  { id: "api", title: "the API answers (/readyz through the admin kubeconfig)" },
  { id: "encryption-at-rest", title: "a Secret is stored encrypted in etcd (k8s:enc:aescbc:v1:key1)" },
  { id: "deployment", title: "an nginx Deployment becomes ready" },
  { id: "logs", title: "kubectl logs works (apiserver → kubelet)" },
  { id: "exec", title: "kubectl exec works" },
  { id: "port-forward", title: "kubectl port-forward works" },
  { id: "nodeport", title: "a NodePort Service answers on every worker" },
  {
    id: "pod-network",
    title: "a pod reaches the nginx pod on another worker, directly and through its Service IP",
  },
  { id: "dns", title: "busybox resolves `kubernetes.default` to the API service IP" },
  { id: "ha", title: "with one apiserver stopped, kubectl through the load balancer still works" },
  { id: "leader-election", title: "one controller-manager and one scheduler hold the leader leases" },
] as const;

export type SmokeTestId = (typeof SMOKE_TESTS)[number]["id"];

export const SMOKE_NAMESPACE = "khw-smoke";
export const SMOKE_MANIFEST = "/var/lib/khw/smoke/smoke.yaml";
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

/**
 * Runs the smoke tests from the first control plane (kubectl with the admin kubeconfig there, etcdctl
 * against the local etcd). Never throws for a cluster problem: each test passes, fails, or says why it
 * could not run (a test whose precondition failed is not run).
 */
export async function runSmoke(
  cluster: Cluster,
  hosts: Hosts,
  options: SmokeOptions,
): Promise<SmokeResult[]> {
  const results = new Map<SmokeTestId, SmokeResult>();
  const title = (id: SmokeTestId) => SMOKE_TESTS.find((t) => t.id === id)!.title;
  const set = (id: SmokeTestId, outcome: SmokeOutcome, detail: string, hint?: string) =>
    results.set(id, { id, title: title(id), outcome, detail, ...(hint ? { hint } : {}) });
  const blockRest = (reason: string, hint?: string) => {
    for (const t of SMOKE_TESTS) if (!results.has(t.id)) set(t.id, "could-not-run", reason, hint);
  };
  const finish = () => SMOKE_TESTS.map((t) => results.get(t.id)!);

  const master = applyHost(cluster);
  const target = hosts.target(master);
  const ex = hosts.executor;
  /** A script on the first control plane; a lost connection or a timeout comes back as a failed result. */
  const sh = async (script: string, args: string[] = [], timeoutSeconds = 60): Promise<ExecResult> => {
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
  };

  // 1. the API
  let r: ExecResult;
  try {
    r = await ex.shell(target, `${KUBECTL} get --raw /readyz 2>&1`, {
      sudo: true,
      check: false,
      timeoutMs: 30_000,
    });
  } catch (e) {
    const d = describeError(e);
    blockRest(`cannot run commands on ${master.name}: ${d.message}`, d.hint);
    return finish();
  }
  if (r.code !== 0 || !/^ok/m.test(r.stdout)) {
    const missing = /not found|No such file/.test(r.stdout + r.stderr);
    set(
      "api",
      "fail",
      `${master.name}: \`kubectl get --raw /readyz\` ${missing ? "could not run" : "did not answer ok"}: ${tail(r.stdout + r.stderr)}`,
      missing
        ? "kubectl or the admin kubeconfig is missing on the control plane: `khw up`"
        : "check `journalctl -u kube-apiserver` on the control planes",
    );
    blockRest(`the API does not answer on ${master.name}`, "fix the `api` test first");
    return finish();
  }
  set("api", "pass", `${master.name}: /readyz ok`);

  // 2. the smoke-test objects
  const yaml = renderObjectsYaml(smokeObjects(cluster, options));
  let applied: ExecResult;
  try {
    await ex.upload(target, { path: SMOKE_MANIFEST, content: yaml, mode: 0o600, sudo: true });
    // The previous run's namespace may still be terminating (it is deleted without waiting): applying
    // into it fails, so wait for it to be gone first (at once when there is none). A new namespace's
    // pods are refused until the controller-manager created its default ServiceAccount (seconds, more
    // while a controller-manager takes over the leader lease): the apply is retried on exactly those
    // two refusals, for up to 60 s.
    applied = await sh(
      [
        `${KUBECTL} wait --for=delete namespace/${SMOKE_NAMESPACE} --timeout=90s >/dev/null 2>&1`,
        "i=0; while :; do",
        `  out=$(${KUBECTL} apply -f "$1" 2>&1); rc=$?`,
        "  [ $rc -eq 0 ] && break; i=$((i+1)); [ $i -ge 30 ] && break",
        '  case "$out" in *serviceaccount*"not found"*|*"being terminated"*) sleep 2 ;; *) break ;; esac',
        'done; printf "%s\\n" "$out"; exit $rc',
      ].join("\n"),
      [SMOKE_MANIFEST],
      180,
    );
  } catch (e) {
    applied = { code: 1, stdout: describeError(e).message, stderr: "" };
  }
  const objectsOk = applied.code === 0;
  const notApplied = `applying the smoke-test objects failed: ${tail(applied.stdout + applied.stderr, 3)}`;

  // 3. encryption at rest
  if (!objectsOk) set("encryption-at-rest", "could-not-run", notApplied);
  else {
    const key = `/registry/secrets/${SMOKE_NAMESPACE}/${SMOKE_TEST_SECRET}`;
    // No ETCDCTL_API=3: etcdctl 3.6 warns about it on stderr, which 2>&1 would put in front of the value.
    const e = await sh(
      [
        `if [ ! -x ${ETCDCTL} ]; then echo "no-etcdctl"; exit 0; fi`,
        `${ETCDCTL} --endpoints=https://127.0.0.1:2379 --cacert=${PKI_PATHS.etcdCa} --cert=${PKI_PATHS.etcdServer} --key=${PKI_PATHS.etcdServerKey} get "$1" --print-value-only 2>&1 | head -c 64 | tr -c '[:print:]' '.'`,
      ].join("\n"),
      [key],
      30,
    );
    const value = e.stdout.trim();
    if (value === "no-etcdctl") {
      set(
        "encryption-at-rest",
        "could-not-run",
        `${ETCDCTL} is not installed on ${master.name}`,
        "`khw up --only etcd` installs it",
      );
    } else if (value.startsWith("k8s:enc:aescbc:v1:key1:")) {
      set("encryption-at-rest", "pass", `etcd ${key} starts with k8s:enc:aescbc:v1:key1`);
    } else if (value === "") {
      set(
        "encryption-at-rest",
        "fail",
        `etcd has no value at ${key}`,
        "is the apiserver using this etcd (--etcd-servers)?",
      );
    } else {
      set(
        "encryption-at-rest",
        "fail",
        `etcd ${key} is not encrypted with aescbc key1 (starts with '${value.slice(0, 24)}')`,
        "the apiserver needs --encryption-provider-config=/var/lib/kubernetes/encryption-config.yaml (kind EncryptionConfiguration, aescbc first)",
      );
    }
  }

  // 4. the deployment, then logs / exec / port-forward on its pod
  let pod = "";
  if (!objectsOk) set("deployment", "could-not-run", notApplied);
  else if (cluster.workers.length === 0)
    set("deployment", "could-not-run", "the spec has no workers to run pods");
  else {
    const d = await sh(
      `${KUBECTL} -n ${SMOKE_NAMESPACE} rollout status deployment/nginx --timeout="$1"s 2>&1; rc=$?; echo "rc=$rc"; ` +
        `${KUBECTL} -n ${SMOKE_NAMESPACE} get pods -l app=nginx -o wide --no-headers 2>&1; ` +
        `echo "pod=$(${KUBECTL} -n ${SMOKE_NAMESPACE} get pods -l app=nginx --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)"`,
      [String(options.timeoutSeconds)],
      options.timeoutSeconds + 60,
    );
    pod = /^pod=(\S+)$/m.exec(d.stdout)?.[1] ?? "";
    if (/^rc=0$/m.test(d.stdout) && pod) set("deployment", "pass", `deployment/nginx ready (pod ${pod})`);
    else {
      set(
        "deployment",
        "fail",
        `deployment/nginx not ready within ${options.timeoutSeconds}s: ${tail(d.stdout.replace(/^(rc|pod)=.*$/gm, ""))}`,
        "look at `kubectl -n khw-smoke describe pods` (image pull? pod network? containerd cgroup driver?)",
      );
    }
  }
  const noPod =
    results.get("deployment")?.outcome === "pass"
      ? ""
      : "the nginx Deployment is not ready (see `deployment`)";
  for (const [id, script, expect] of [
    ["logs", `${KUBECTL} -n ${SMOKE_NAMESPACE} logs "$1" --tail=3 2>&1`, undefined],
    // a real nginx's answer (`nginx version: nginx/1.27.3`), not just any program naming itself
    [
      "exec",
      `${KUBECTL} -n ${SMOKE_NAMESPACE} exec "$1" -- nginx -v 2>&1`,
      /^nginx version: nginx\/\d+\.\d+\.\d+/m,
    ],
  ] as const) {
    if (noPod) {
      set(id, "could-not-run", noPod);
      continue;
    }
    const x = await sh(script, [pod], 60);
    const out = x.stdout + x.stderr;
    if (x.code === 0 && (expect === undefined || expect.test(out))) {
      set(id, "pass", id === "exec" ? tail(out, 1) : `kubectl logs ${pod} answered`);
    } else set(id, "fail", `kubectl ${id} ${pod}: ${tail(out, 3)}`, kubeletAccessHint(out));
  }
  if (noPod) set("port-forward", "could-not-run", noPod);
  else {
    const port = String(options.portForwardPort ?? 18080);
    const pf = await sh(
      [
        'command -v curl >/dev/null 2>&1 || { echo "no-curl"; exit 0; }',
        `${KUBECTL} -n ${SMOKE_NAMESPACE} port-forward "pod/$1" "$2":80 >/tmp/khw-smoke-pf.log 2>&1 & pf=$!`,
        'i=0; code=000; while [ $i -lt 30 ]; do code=$(curl -s -m 3 -o /dev/null -w "%{http_code}" "http://127.0.0.1:$2/"); [ "$code" = 200 ] && break; i=$((i+1)); sleep 0.5; done',
        'kill $pf 2>/dev/null; wait $pf 2>/dev/null; echo "code=$code"; tail -n 3 /tmp/khw-smoke-pf.log; rm -f /tmp/khw-smoke-pf.log',
      ].join("\n"),
      [pod, port],
      60,
    );
    if (/^no-curl$/m.test(pf.stdout))
      set("port-forward", "could-not-run", `curl is not installed on ${master.name}`);
    else if (/^code=200$/m.test(pf.stdout))
      set("port-forward", "pass", `127.0.0.1:${port} → ${pod}:80 answered 200`);
    else
      set(
        "port-forward",
        "fail",
        `port-forward to ${pod}: ${tail(pf.stdout, 4)}`,
        kubeletAccessHint(pf.stdout),
      );
  }

  // 5. NodePort on every worker
  const nodePort = defaultSmokeTestNodePort(cluster.network.nodePortRange);
  const npWait = Math.min(NODEPORT_WAIT_SECONDS, options.timeoutSeconds);
  if (noPod) set("nodeport", "could-not-run", noPod);
  else {
    const np = await sh(
      [
        'command -v curl >/dev/null 2>&1 || { echo "no-curl"; exit 0; }',
        // kube-proxy programs a new Service within seconds, but after an apiserver failover its watch
        // may reconnect with backoff: ask every worker again until all answer 200 or the deadline passes.
        "deadline=$(( $(date +%s) + $2 )); port=$1; shift 2",
        'while :; do out=""; ok=1; for ip in "$@"; do c=$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://$ip:$port/"); out="$out$ip $c\n"; [ "$c" = 200 ] || ok=0; done',
        "  [ $ok = 1 ] && break; [ $(date +%s) -ge $deadline ] && break; sleep 2; done",
        'printf "%s" "$out"',
      ].join("\n"),
      [String(nodePort), String(npWait), ...cluster.workers.map((w) => w.address)],
      npWait + 30 + cluster.workers.length * 6,
    );
    if (/^no-curl$/m.test(np.stdout))
      set("nodeport", "could-not-run", `curl is not installed on ${master.name}`);
    else {
      const codes = new Map(
        np.stdout
          .trim()
          .split("\n")
          .map((l) => l.split(" ") as [string, string]),
      );
      const per = cluster.workers.map(
        (w) => `${w.name} ${w.address}:${nodePort} → ${codes.get(w.address) ?? "no answer"}`,
      );
      const allOk = cluster.workers.every((w) => codes.get(w.address) === "200");
      set(
        "nodeport",
        allOk ? "pass" : "fail",
        per.join("; "),
        allOk
          ? undefined
          : "kube-proxy on the failing workers (`journalctl -u kube-proxy`), or the pod network between workers",
      );
    }
  }

  // 6. the pod network across nodes: net-client (never on nginx's node) → nginx pod IP, → Service IP.
  // busybox's own timeout applet, not `wget -T` (Debian's busybox-static 1.35 wget crashes on -T).
  if (noPod) set("pod-network", "could-not-run", noPod);
  else if (cluster.workers.length < 2) set("pod-network", "could-not-run", "needs at least 2 workers");
  else {
    const q = `${KUBECTL} -n ${SMOKE_NAMESPACE}`;
    const n = await sh(
      [
        `${q} wait --for=condition=Ready pod/${NET_CLIENT_POD} --timeout="$2"s >/dev/null 2>&1 || { echo "not-ready"; ${q} get pod ${NET_CLIENT_POD} -o wide 2>&1 | tail -n 1; exit 0; }`,
        `podip=$(${q} get pod "$1" -o jsonpath='{.status.podIP}'); node=$(${q} get pod "$1" -o jsonpath='{.spec.nodeName}')`,
        `cnode=$(${q} get pod ${NET_CLIENT_POD} -o jsonpath='{.spec.nodeName}')`,
        `svc=$(${q} get service nginx -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')`,
        'echo "nodes=$cnode->$node"',
        `${q} exec ${NET_CLIENT_POD} -- timeout 5 wget -q -O /dev/null "http://$podip/" >/tmp/khw-smoke-net.log 2>&1 && echo "pod=ok $podip" || echo "pod=fail $podip $(tail -n 2 /tmp/khw-smoke-net.log | tr '\\n' ' ')"`,
        `${q} exec ${NET_CLIENT_POD} -- timeout 5 wget -q -O /dev/null "http://$svc/" >/tmp/khw-smoke-net.log 2>&1 && echo "svc=ok $svc" || echo "svc=fail $svc $(tail -n 2 /tmp/khw-smoke-net.log | tr '\\n' ' ')"`,
        "rm -f /tmp/khw-smoke-net.log",
      ].join("\n"),
      [pod, String(options.timeoutSeconds)],
      options.timeoutSeconds + 60,
    );
    const line = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(n.stdout)?.[1] ?? "";
    const [from, to] = line("nodes").split("->");
    if (/^not-ready$/m.test(n.stdout)) {
      set("pod-network", "could-not-run", `pod ${NET_CLIENT_POD} not ready: ${tail(n.stdout, 1)}`);
    } else if (!from || from === to) {
      set(
        "pod-network",
        "fail",
        `${NET_CLIENT_POD} and ${pod} are not on different workers (${line("nodes")})`,
      );
    } else if (line("pod").startsWith("ok") && line("svc").startsWith("ok")) {
      set(
        "pod-network",
        "pass",
        `${from} → ${to}: pod ${line("pod").slice(3)} and Service ${line("svc").slice(3)} answered`,
      );
    } else {
      set(
        "pod-network",
        "fail",
        `${from} → ${to}: pod ${line("pod")}; Service ${line("svc")}`,
        /applet not found|executable file not found|wget: not found/.test(n.stdout)
          ? "the busybox image has no wget (addons.images.busybox must be a real busybox)"
          : "the pod network between workers: `kubectl -n kube-flannel logs ds/kube-flannel-ds` (flannel), routes (bridge-routes), and kube-proxy for the Service IP",
      );
    }
  }

  // 7. DNS
  if (!cluster.spec.addons.dns) set("dns", "could-not-run", "DNS is off in the spec (addons.dns: false)");
  else if (!objectsOk) set("dns", "could-not-run", notApplied);
  else if (cluster.workers.length === 0) set("dns", "could-not-run", "the spec has no workers to run pods");
  else {
    // kubernetes.default: the pod's namespace is khw-smoke, where a bare `kubernetes` never reaches the API Service.
    // Asked as the name the pod's search path makes of it (kubernetes.default.svc.<domain>): busybox since 1.29
    // resolves by itself and does not search for a name with a dot; busybox's shell shows the search path.
    const fqdn = `kubernetes.default.svc.${cluster.network.clusterDomain}`;
    const d = await sh(
      `${KUBECTL} -n ${SMOKE_NAMESPACE} wait --for=condition=Ready pod/busybox --timeout="$1"s 2>&1 || exit 3\n` +
        `${KUBECTL} -n ${SMOKE_NAMESPACE} exec busybox -- sh -c 'grep "^search" /etc/resolv.conf; nslookup "$0"' "$2" 2>&1`,
      [String(options.timeoutSeconds), fqdn],
      options.timeoutSeconds + 60,
    );
    const ip = cluster.network.apiServiceIP;
    if (d.code === 3) set("dns", "could-not-run", `pod busybox not ready: ${tail(d.stdout, 2)}`);
    else if (new RegExp(`Address( 1)?:\\s+${ip.replace(/\./g, "\\.")}(\\s|$)`, "m").test(d.stdout)) {
      set("dns", "pass", `${fqdn} resolves to ${ip}`);
    } else {
      set(
        "dns",
        "fail",
        `nslookup ${fqdn}: ${tail(d.stdout, 4)}`,
        "CoreDNS pods running? (`kubectl -n kube-system get pods -l k8s-app=kube-dns`); a loop with systemd-resolved needs resolvConf /run/systemd/resolve/resolv.conf",
      );
    }
  }

  // 8. HA: one apiserver down, kubectl through the LB
  const victim: ClusterNode | undefined = cluster.controlPlanes.at(-1);
  if (!options.ha) set("ha", "could-not-run", "skipped by --no-ha");
  else if (cluster.controlPlanes.length < 2 || !cluster.loadBalancer) {
    set("ha", "could-not-run", "needs at least 2 control planes behind a load balancer");
  } else {
    const vt: HostTarget = hosts.target(victim!);
    let stopped = false;
    try {
      await ex.exec(vt, ["systemctl", "stop", "kube-apiserver"], { sudo: true });
      stopped = true;
      const h = await sh(
        [
          "ok=0; n=0; while [ $n -lt 40 ]; do n=$((n+1));",
          `  if ${KUBECTL} --server "$1" get nodes --request-timeout=3s >/dev/null 2>&1; then ok=$((ok+1)); else ok=0; fi;`,
          '  [ $ok -ge 5 ] && break; sleep 1; done; echo "consecutive=$ok tries=$n"',
        ].join("\n"),
        [cluster.api.url],
        120,
      );
      const m = /consecutive=(\d+) tries=(\d+)/.exec(h.stdout);
      if (m && Number(m[1]) >= 5) {
        set(
          "ha",
          "pass",
          `kube-apiserver stopped on ${victim!.name}; 5 requests in a row through ${cluster.api.url} succeeded (${m[2]} tries)`,
        );
      } else {
        set(
          "ha",
          "fail",
          `with kube-apiserver stopped on ${victim!.name}, kubectl through ${cluster.api.url} kept failing: ${tail(h.stdout, 2)}`,
          "HAProxy must health-check the apiservers (`option tcp-check`, `check fall 3 rise 2`) to stop sending to a dead one",
        );
      }
    } catch (e) {
      const d = describeError(e);
      set("ha", "could-not-run", `could not stop kube-apiserver on ${victim!.name}: ${d.message}`, d.hint);
    } finally {
      if (stopped) {
        try {
          await ex.exec(vt, ["systemctl", "start", "kube-apiserver"], { sudo: true });
        } catch (e) {
          const r0 = results.get("ha")!;
          results.set("ha", {
            ...r0,
            outcome: "fail",
            detail: `${r0.detail}; and kube-apiserver on ${victim!.name} did not start again: ${describeError(e).message}`,
            hint: `start it: ssh ${victim!.name} systemctl start kube-apiserver`,
          });
        }
      }
    }
  }

  // 9. leader leases
  const l = await sh(
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
      ? cluster.controlPlanes.find((m) => holder === m.name || holder.startsWith(`${m.name}_`))?.name
      : undefined;
  const cm = holders.get("kube-controller-manager");
  const sc = holders.get("kube-scheduler");
  if (l.code !== 0) set("leader-election", "fail", `reading the leases failed: ${tail(l.stdout, 2)}`);
  else if (masterOf(cm) && masterOf(sc)) {
    set(
      "leader-election",
      "pass",
      `kube-controller-manager leader ${masterOf(cm)}, kube-scheduler leader ${masterOf(sc)}`,
    );
  } else {
    set(
      "leader-election",
      "fail",
      `leases: kube-controller-manager=${cm || "none"}, kube-scheduler=${sc || "none"}`,
      "both run with --leader-elect=true on every control plane; a holder that is not a control plane's name is stale",
    );
  }

  if (!options.keep && objectsOk) {
    await sh(
      `${KUBECTL} delete namespace ${SMOKE_NAMESPACE} --wait=false >/dev/null 2>&1; rm -f "$1"`,
      [SMOKE_MANIFEST],
      30,
    ).catch(() => undefined);
  }
  return finish();
}
