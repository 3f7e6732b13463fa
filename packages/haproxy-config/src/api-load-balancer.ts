import { API_PORT, type Cluster, type GeneratedFile, NODE_DIRS, NODE_FILES } from "@khw/spec/core";
import { HaproxyConfigError } from "./errors";
import type {
  Bind,
  DefaultsSection,
  Duration,
  GlobalSection,
  HaproxyConfig,
  HealthCheck,
  Server,
  StatsListener,
  Timeouts,
} from "./model";
import { renderHaproxyConfig } from "./render";

/** Where Debian's and Ubuntu's haproxy package reads its configuration. */
export const HAPROXY_CONFIG_PATH = NODE_FILES.haproxyConfig;
export const API_FRONTEND_NAME = "kubernetes";
export const API_BACKEND_NAME = "kubernetes-control-planes";
export const STATS_LISTENER_NAME = "stats";

/**
 * How an API server is judged alive.
 * - `tcp`: a TCP connect to :6443 (`option tcp-check`). Notices a dead process or host, not an
 *   apiserver that runs but cannot serve (e.g. etcd unreachable).
 * - `https-readyz`: `GET /readyz` over TLS, expecting 200. Also takes an apiserver out while it is
 *   starting, shutting down (readyz turns 500 before the listener closes) or cut off from etcd.
 *   `/readyz` is readable without credentials (the default `system:public-info-viewer` role).
 */
export type ApiHealthCheck = "tcp" | "https-readyz";
export const API_HEALTH_CHECKS: readonly ApiHealthCheck[] = ["tcp", "https-readyz"];

/** The health-check timing of every control plane server. */
export interface HealthCheckTiming {
  /** Between checks while a server is stable. */
  inter: Duration;
  /** Between checks after a first failure (or success) until the state flips. */
  fastinter: Duration;
  /** Between checks while a server is down. */
  downinter: Duration;
  /** Failed checks in a row that take a server out. */
  fall: number;
  /** Good checks in a row that put it back. */
  rise: number;
}

/**
 * inter 2s, fastinter 1s, fall 3: a stopped apiserver (connections refused) is out of the pool at most
 * 2 s + 2 × 1 s = 4 s after it died; a host that vanished (packets dropped, each check waiting for its
 * 2 s connect timeout) within about 10 s. downinter 5s, rise 2: a restarted one is back within about 6 s.
 */
export const DEFAULT_HEALTH_CHECK_TIMING: Readonly<HealthCheckTiming> = Object.freeze({
  inter: "2s",
  fastinter: "1s",
  downinter: "5s",
  fall: 3,
  rise: 2,
});

/**
 * Timeouts for a TCP proxy in front of the API: watches, `kubectl logs -f`, `exec` and
 * `port-forward` keep connections open and sometimes idle for a long time, so client/server
 * inactivity is an hour; connecting to a server and checking it are short.
 */
export const DEFAULT_API_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connect: "5s",
  client: "1h",
  server: "1h",
  check: "2s",
  clientFin: "10s",
  serverFin: "10s",
});

/** Debian's global section: syslog, chroot, the runtime API socket, an unprivileged user. */
export function defaultGlobalSection(): GlobalSection {
  return {
    log: [
      { address: "/dev/log", facility: "local0" },
      { address: "/dev/log", facility: "local1", level: "notice" },
    ],
    chroot: NODE_DIRS.haproxyChroot,
    statsSocket: { path: NODE_FILES.haproxyStatsSocket, mode: "660", level: "admin" },
    statsTimeout: "30s",
    user: "haproxy",
    group: "haproxy",
    daemon: true,
    maxconn: 4096,
  };
}

/** TLS verification of the `https-readyz` check: `none`, or the cluster CA (and optionally a name). */
export type CheckTlsVerify = "none" | { caFile: string; serverName?: string };

/** One API server behind the load balancer. */
export interface ApiServerTarget {
  name: string;
  address: string;
  /** Default 6443. */
  port?: number;
}

/** The narrow input of the API load balancer: where to listen and which API servers to balance. */
export interface ApiLoadBalancerInput {
  /** Shown in the header comment. */
  clusterName?: string;
  /** The frontend address: the load balancer's IP and 6443. */
  bind: Bind;
  servers: ApiServerTarget[];
  /** Default `tcp`. */
  healthCheck?: ApiHealthCheck;
  /** Overrides DEFAULT_HEALTH_CHECK_TIMING field by field. */
  timing?: Partial<HealthCheckTiming>;
  /** For `https-readyz`; default `none` (the check reads readiness only; client TLS passes through untouched). */
  tlsVerify?: CheckTlsVerify;
  /** The statistics page (HTML, CSV at `<uri>;csv`). Default 127.0.0.1:8404 /stats; `false` for none. */
  stats?: false | { address: string; port: number; uri?: string };
  /** Replaces the whole global section (default: defaultGlobalSection()). */
  global?: GlobalSection;
  /** Overrides DEFAULT_API_TIMEOUTS field by field. */
  timeouts?: Partial<Timeouts>;
}

export const DEFAULT_STATS = Object.freeze({ address: "127.0.0.1", port: 8404, uri: "/stats" });

function healthCheckOf(kind: ApiHealthCheck): HealthCheck {
  return kind === "tcp"
    ? { kind: "tcp" }
    : { kind: "http", method: "GET", path: "/readyz", expectStatus: 200 };
}

/** The typed model of the API load balancer; render it with renderHaproxyConfig, or use apiLoadBalancerText. */
export function apiLoadBalancer(input: ApiLoadBalancerInput): HaproxyConfig {
  const kind = input.healthCheck ?? "tcp";
  if (!API_HEALTH_CHECKS.includes(kind)) {
    throw new HaproxyConfigError("INVALID_HAPROXY_CONFIG", [
      {
        path: "healthCheck",
        code: "unknown-health-check",
        message: `'${String(kind)}' is not a health check`,
        hint: `use one of ${API_HEALTH_CHECKS.join(", ")}`,
      },
    ]);
  }
  const timing = { ...DEFAULT_HEALTH_CHECK_TIMING, ...input.timing };
  const verify = input.tlsVerify ?? "none";
  const servers: Server[] = input.servers.map((s) => ({
    name: s.name,
    address: s.address,
    port: s.port ?? API_PORT,
    check: true,
    ...(kind === "https-readyz"
      ? verify === "none"
        ? { checkSsl: true, verify: "none" as const }
        : {
            checkSsl: true,
            ...(verify.serverName ? { checkSni: verify.serverName } : {}),
            verify: "required" as const,
            caFile: verify.caFile,
            ...(verify.serverName ? { verifyHost: verify.serverName } : {}),
          }
      : {}),
    inter: timing.inter,
    fastinter: timing.fastinter,
    downinter: timing.downinter,
    fall: timing.fall,
    rise: timing.rise,
    onMarkedDown: "shutdown-sessions" as const,
  }));
  const defaults: DefaultsSection = {
    mode: "tcp",
    logGlobal: true,
    options: ["dontlognull"],
    redispatch: 1,
    retries: 3,
    timeouts: { ...DEFAULT_API_TIMEOUTS, ...input.timeouts },
  };
  const statsInput = input.stats === undefined ? DEFAULT_STATS : input.stats;
  const stats: StatsListener[] = statsInput
    ? [
        {
          name: STATS_LISTENER_NAME,
          bind: { address: statsInput.address, port: statsInput.port },
          uri: statsInput.uri ?? DEFAULT_STATS.uri,
          refresh: "10s",
        },
      ]
    : [];
  return {
    header: [
      `The Kubernetes API load balancer${input.clusterName ? ` of cluster ${input.clusterName}` : ""}, generated by khw.`,
      "TCP passthrough: clients speak TLS to the API servers themselves.",
      `Health check: ${kind === "tcp" ? "a TCP connect" : "GET /readyz over TLS, expecting 200"} every ${timing.inter}` +
        ` (${timing.fastinter} while a server changes state, ${timing.downinter} while it is down);`,
      `${timing.fall} failed checks take a server out of the pool, ${timing.rise} good ones put it back.`,
    ],
    global: input.global ?? defaultGlobalSection(),
    defaults,
    frontends: [
      {
        name: API_FRONTEND_NAME,
        mode: "tcp",
        binds: [input.bind],
        options: ["tcplog"],
        defaultBackend: API_BACKEND_NAME,
      },
    ],
    backends: [
      {
        name: API_BACKEND_NAME,
        mode: "tcp",
        balance: "roundrobin",
        healthCheck: healthCheckOf(kind),
        servers,
      },
    ],
    stats,
  };
}

/** The API load balancer's haproxy.cfg text from the narrow input. */
export function apiLoadBalancerText(input: ApiLoadBalancerInput): string {
  return renderHaproxyConfig(apiLoadBalancer(input));
}

/** Options of the cluster conveniences: everything of the narrow input but the servers; bind fields override. */
export interface ApiLoadBalancerOptions
  extends Omit<ApiLoadBalancerInput, "bind" | "servers" | "clusterName"> {
  /** Default: the load balancer's address and 6443. */
  bind?: Partial<Bind>;
}

/** The narrow input for a cluster: bind on the load balancer's IP:6443, one server per control plane. */
export function apiLoadBalancerInputFromCluster(
  cluster: Cluster,
  options: ApiLoadBalancerOptions = {},
): ApiLoadBalancerInput {
  const lb = cluster.loadBalancer;
  if (!lb) {
    throw new HaproxyConfigError("NO_LOAD_BALANCER", [
      {
        path: "nodes",
        code: "no-load-balancer",
        message: `cluster ${cluster.name} has no node with role loadbalancer`,
        hint: "add a node with role: loadbalancer (a single control plane needs none)",
      },
    ]);
  }
  const { bind, ...rest } = options;
  return {
    ...rest,
    clusterName: cluster.name,
    bind: { address: bind?.address ?? lb.address, port: bind?.port ?? API_PORT },
    servers: cluster.controlPlanes.map((n) => ({ name: n.name, address: n.address, port: API_PORT })),
  };
}

/** The API load balancer model of a cluster. Throws HaproxyConfigError NO_LOAD_BALANCER without one. */
export function apiLoadBalancerFromCluster(
  cluster: Cluster,
  options: ApiLoadBalancerOptions = {},
): HaproxyConfig {
  return apiLoadBalancer(apiLoadBalancerInputFromCluster(cluster, options));
}

/** The complete haproxy.cfg of a cluster's load balancer. */
export function apiLoadBalancerConfig(cluster: Cluster, options: ApiLoadBalancerOptions = {}): string {
  return renderHaproxyConfig(apiLoadBalancerFromCluster(cluster, options));
}

/** Where haproxyFilesFromCluster puts the cluster CA certificate for the verified `https-readyz` check. */
export const HAPROXY_CA_PATH = NODE_FILES.haproxyCa;

/** Options of haproxyFilesFromCluster: those of the config, plus the CA certificate to ship. */
export interface HaproxyFilesOptions extends ApiLoadBalancerOptions {
  /**
   * The cluster CA certificate (PEM). With the `https-readyz` check it is written to
   * /etc/haproxy/kubernetes-ca.crt and the check verifies the apiservers against it (name
   * `kubernetes`), unless `tlsVerify` says otherwise. Never a key: the CA key must not reach the LB.
   */
  caCertificate?: string;
}

/**
 * The files for the load balancer node: /etc/haproxy/haproxy.cfg (0644), and with `caCertificate`
 * and the `https-readyz` check the CA certificate the check verifies against (0644). A cluster
 * without a load balancer gets none (clients talk to the only control plane).
 */
export function haproxyFilesFromCluster(
  cluster: Cluster,
  options: HaproxyFilesOptions = {},
): GeneratedFile[] {
  const lb = cluster.loadBalancer;
  if (!lb) return [];
  const { caCertificate, ...configOptions } = options;
  const files: GeneratedFile[] = [];
  if (caCertificate !== undefined) {
    const problem = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(caCertificate)
      ? { code: "private-key", message: "holds a private key, which must never reach the load balancer" }
      : !/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/.test(caCertificate.trim())
        ? { code: "not-a-certificate", message: "is not a PEM certificate" }
        : (configOptions.healthCheck ?? "tcp") !== "https-readyz"
          ? { code: "ca-unused", message: "is only used by the https-readyz check" }
          : undefined;
    if (problem) {
      throw new HaproxyConfigError("INVALID_HAPROXY_CONFIG", [
        {
          path: "caCertificate",
          ...problem,
          hint: "pass the cluster CA certificate (ca.crt) with healthCheck: https-readyz",
        },
      ]);
    }
    configOptions.tlsVerify ??= { caFile: HAPROXY_CA_PATH, serverName: "kubernetes" };
    files.push({
      host: lb.name,
      path: HAPROXY_CA_PATH,
      mode: 0o644,
      contents: caCertificate.endsWith("\n") ? caCertificate : `${caCertificate}\n`,
    });
  }
  files.unshift({
    host: lb.name,
    path: HAPROXY_CONFIG_PATH,
    mode: 0o644,
    contents: apiLoadBalancerConfig(cluster, configOptions),
  });
  return files;
}
