/**
 * A typed model of the parts of haproxy.cfg that a TCP load balancer in front of Kubernetes API
 * servers needs. Every field maps to one HAProxy keyword; the renderer writes them in a fixed order.
 */

/** A time value: a number is milliseconds; a string carries HAProxy's own unit (`2s`, `500ms`, `1m`). */
export type Duration = number | `${number}${"us" | "ms" | "s" | "m" | "h" | "d"}`;

/** `mode`: the load balancer of the API is TCP (TLS passes through to the API servers). */
export type ProxyMode = "tcp" | "http";

/** `balance` algorithms khw uses or accepts. */
export type BalanceAlgorithm = "roundrobin" | "leastconn" | "source" | "first" | "static-rr";

/** `option <name>` flags, as written after `option`. */
export type ProxyOption =
  | "tcplog"
  | "httplog"
  | "dontlognull"
  | "redispatch"
  | "log-health-checks"
  | "tcpka"
  | "clitcpka"
  | "srvtcpka"
  | "splice-auto";

/** `log <address> <facility> [<level>]`, e.g. `/dev/log local0 notice`. */
export interface LogTarget {
  address: string;
  facility: string;
  level?: "emerg" | "alert" | "crit" | "err" | "warning" | "notice" | "info" | "debug";
}

export interface GlobalSection {
  log?: LogTarget[];
  chroot?: string;
  /** `stats socket <path> mode <mode> level <level>`: the runtime API. */
  statsSocket?: { path: string; mode: string; level: "user" | "operator" | "admin" };
  /** `stats timeout`: how long the runtime API keeps an idle session. */
  statsTimeout?: Duration;
  user?: string;
  group?: string;
  /** `daemon`: fork into the background (systemd's haproxy.service uses -Ws and ignores it). */
  daemon?: boolean;
  /** `maxconn`: process-wide connection limit. */
  maxconn?: number;
  pidfile?: string;
}

/** `timeout <name> <duration>` lines. */
export interface Timeouts {
  /** Establishing a TCP connection to a server. */
  connect: Duration;
  /** Client inactivity. */
  client: Duration;
  /** Server inactivity. */
  server: Duration;
  /** Extra read timeout for health checks (the connect part of a check is min(connect, inter)). */
  check?: Duration;
  /** Waiting for a free slot when every server is at maxconn. */
  queue?: Duration;
  /** Half-closed client connections. */
  clientFin?: Duration;
  /** Half-closed server connections. */
  serverFin?: Duration;
  /** Inactivity of a tunnel (WebSocket/upgrade in HTTP mode; unused in TCP mode). */
  tunnel?: Duration;
}

export interface DefaultsSection {
  mode: ProxyMode;
  /** `log global`: use the global log targets. */
  logGlobal?: boolean;
  options?: ProxyOption[];
  /** `retries`: connection attempts to a server before giving up (or redispatching). */
  retries?: number;
  /**
   * `option redispatch <interval>`: with 1, every retry may go to another server, so a connection
   * to a server that just died lands on a live one before the health check has even noticed.
   */
  redispatch?: number;
  timeouts: Timeouts;
}

/** `bind <address>:<port>`. */
export interface Bind {
  address: string;
  port: number;
}

export interface FrontendSection {
  name: string;
  mode: ProxyMode;
  binds: Bind[];
  options?: ProxyOption[];
  defaultBackend: string;
}

/** How servers are checked. `tcp`: a TCP connect (`option tcp-check`). */
export type HealthCheck =
  | { kind: "tcp" }
  | {
      /** An HTTP request (over TLS when the servers say `checkSsl`), e.g. `GET /readyz` expecting 200. */
      kind: "http";
      method: "GET" | "HEAD";
      path: string;
      expectStatus: number;
      /** `Host` header of the check request. */
      host?: string;
    };

/** The health-check and connection parameters of one server line. */
export interface ServerParams {
  /** `check`: take part in health checks. */
  check?: boolean;
  /** `check-ssl`: run the check over TLS (the API servers only speak TLS). */
  checkSsl?: boolean;
  /** `verify none` or `verify required` (then `caFile` is required) for TLS checks. */
  verify?: "none" | "required";
  /** `ca-file`: the CA that signs the servers' certificates. */
  caFile?: string;
  /** `check-sni`: server name sent in the TLS check (and verified with `verifyhost`). */
  checkSni?: string;
  /** `verifyhost`: the name the server certificate must carry. */
  verifyHost?: string;
  /** `inter`: time between checks while the server is stable. */
  inter?: Duration;
  /** `fastinter`: time between checks while the server is changing state (after a first failure). */
  fastinter?: Duration;
  /** `downinter`: time between checks while the server is down. */
  downinter?: Duration;
  /** `fall`: consecutive failed checks that mark the server down. */
  fall?: number;
  /** `rise`: consecutive good checks that mark it up again. */
  rise?: number;
  /** `on-marked-down shutdown-sessions`: cut the connections to a server that went down. */
  onMarkedDown?: "shutdown-sessions";
  /** `slowstart`: ramp a recovered server's share of traffic up over this time. */
  slowstart?: Duration;
  /** `maxconn` per server. */
  maxconn?: number;
}

export interface Server extends ServerParams {
  name: string;
  address: string;
  port: number;
}

export interface BackendSection {
  name: string;
  mode: ProxyMode;
  balance: BalanceAlgorithm;
  options?: ProxyOption[];
  healthCheck?: HealthCheck;
  servers: Server[];
}

/** A `listen` section serving HAProxy's statistics page (HTML, or CSV at `<uri>;csv`). */
export interface StatsListener {
  name: string;
  bind: Bind;
  uri: string;
  refresh?: Duration;
}

/** A whole haproxy.cfg. */
export interface HaproxyConfig {
  /** Comment lines written at the top (without the `#`). */
  header?: string[];
  global: GlobalSection;
  defaults: DefaultsSection;
  frontends: FrontendSection[];
  backends: BackendSection[];
  stats?: StatsListener[];
}
