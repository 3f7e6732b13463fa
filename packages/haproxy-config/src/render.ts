import { HaproxyConfigError, type HaproxyConfigIssue } from "./errors";
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

/** HAProxy proxy and server names: letters, digits, `-`, `_`, `.` and `:`. */
const NAME = /^[A-Za-z0-9_.:-]+$/;
/** An address HAProxy binds or connects to: IPv4, a host name, or `*`; no spaces or colons (ports are separate). */
const ADDRESS = /^(\*|[A-Za-z0-9_.-]+)$/;
const DURATION = /^\d+(us|ms|s|m|h|d)$/;
/** Tokens written verbatim into a line: no whitespace, no comment sign, no quotes. */
const TOKEN = /^[^\s#"'\\]+$/;

const TIMEOUT_KEYWORDS: [keyof Timeouts, string][] = [
  ["connect", "connect"],
  ["client", "client"],
  ["server", "server"],
  ["check", "check"],
  ["queue", "queue"],
  ["clientFin", "client-fin"],
  ["serverFin", "server-fin"],
  ["tunnel", "tunnel"],
];

/** Every problem in a model, not just the first. An empty list means `renderHaproxyConfig` will succeed. */
export function validateHaproxyConfig(config: HaproxyConfig): HaproxyConfigIssue[] {
  const issues: HaproxyConfigIssue[] = [];
  const err = (path: string, code: string, message: string, hint?: string) =>
    issues.push({ path, code, message, ...(hint ? { hint } : {}) });

  const duration = (path: string, d: Duration | undefined) => {
    if (d === undefined) return;
    if (typeof d === "number" ? !(Number.isInteger(d) && d >= 0) : !DURATION.test(d)) {
      err(path, "invalid-duration", `'${d}' is not a duration`, "use milliseconds as a number or e.g. '2s'");
    }
  };
  const positive = (path: string, n: number | undefined, what: string) => {
    if (n !== undefined && !(Number.isInteger(n) && n >= 1)) {
      err(path, "invalid-count", `${what} must be a whole number of at least 1, got ${n}`);
    }
  };
  const token = (path: string, value: string | undefined, what: string) => {
    if (value !== undefined && !TOKEN.test(value)) {
      err(path, "invalid-token", `${what} '${value}' contains whitespace, quotes or '#'`);
    }
  };
  const name = (path: string, value: string) => {
    if (!NAME.test(value)) {
      err(
        path,
        "invalid-name",
        `'${value}' is not a valid HAProxy name`,
        "use letters, digits, '-', '_', '.' and ':' only",
      );
    }
  };
  const bind = (path: string, b: Bind) => {
    if (!ADDRESS.test(b.address)) {
      err(
        `${path}.address`,
        "invalid-address",
        `'${b.address}' is not an address HAProxy can bind`,
        "use an IPv4 address, a host name or '*'",
      );
    }
    port(`${path}.port`, b.port);
  };
  const port = (path: string, p: number) => {
    if (!(Number.isInteger(p) && p >= 1 && p <= 65535)) {
      err(path, "invalid-port", `${p} is not a TCP port`, "use 1-65535");
    }
  };

  const g = config.global;
  g.log?.forEach((l, i) => {
    token(`global.log[${i}].address`, l.address, "log address");
    token(`global.log[${i}].facility`, l.facility, "log facility");
  });
  token("global.chroot", g.chroot, "chroot");
  token("global.user", g.user, "user");
  token("global.group", g.group, "group");
  token("global.pidfile", g.pidfile, "pidfile");
  if (g.statsSocket) {
    token("global.statsSocket.path", g.statsSocket.path, "stats socket path");
    if (!/^[0-7]{3,4}$/.test(g.statsSocket.mode)) {
      err("global.statsSocket.mode", "invalid-mode", `'${g.statsSocket.mode}' is not an octal file mode`);
    }
  }
  duration("global.statsTimeout", g.statsTimeout);
  positive("global.maxconn", g.maxconn, "maxconn");

  const d = config.defaults;
  for (const [key] of TIMEOUT_KEYWORDS) duration(`defaults.timeouts.${key}`, d.timeouts[key]);
  if (d.retries !== undefined && !(Number.isInteger(d.retries) && d.retries >= 0)) {
    err("defaults.retries", "invalid-count", `retries must be a whole number ≥ 0, got ${d.retries}`);
  }
  if (d.redispatch !== undefined && !Number.isInteger(d.redispatch)) {
    err(
      "defaults.redispatch",
      "invalid-count",
      `redispatch interval must be a whole number, got ${d.redispatch}`,
    );
  }

  const proxies = new Map<string, string>();
  const claim = (path: string, proxyName: string) => {
    name(`${path}.name`, proxyName);
    const prev = proxies.get(proxyName);
    if (prev !== undefined) {
      err(
        `${path}.name`,
        "duplicate-proxy",
        `proxy name '${proxyName}' is also used by ${prev}`,
        "give every frontend, backend and listener its own name",
      );
    } else proxies.set(proxyName, path);
  };
  const binds = new Map<string, string>();
  const claimBind = (path: string, b: Bind) => {
    bind(path, b);
    const key = `${b.address}:${b.port}`;
    const prev = binds.get(key);
    if (prev !== undefined) {
      err(path, "duplicate-bind", `${key} is also bound by ${prev}`, "give every listener its own port");
    } else binds.set(key, path);
  };

  config.backends.forEach((b, i) => {
    const p = `backends[${i}]`;
    claim(p, b.name);
    if (b.servers.length === 0) {
      err(`${p}.servers`, "no-servers", `backend '${b.name}' has no servers`, "add at least one server");
    }
    if (b.healthCheck?.kind === "http") {
      const hc = b.healthCheck;
      if (!/^\/[^\s#]*$/.test(hc.path)) {
        err(`${p}.healthCheck.path`, "invalid-path", `'${hc.path}' is not an absolute request path`);
      }
      if (!(Number.isInteger(hc.expectStatus) && hc.expectStatus >= 100 && hc.expectStatus <= 599)) {
        err(`${p}.healthCheck.expectStatus`, "invalid-status", `${hc.expectStatus} is not an HTTP status`);
      }
      token(`${p}.healthCheck.host`, hc.host, "Host header");
    }
    const seen = new Map<string, number>();
    b.servers.forEach((s, j) => {
      const sp = `${p}.servers[${j}]`;
      name(`${sp}.name`, s.name);
      const prev = seen.get(s.name);
      if (prev !== undefined) {
        err(
          `${sp}.name`,
          "duplicate-server",
          `server '${s.name}' is also ${p}.servers[${prev}]`,
          "give every server of a backend its own name",
        );
      } else seen.set(s.name, j);
      if (!ADDRESS.test(s.address) || s.address === "*") {
        err(`${sp}.address`, "invalid-address", `'${s.address}' is not a server address`);
      }
      port(`${sp}.port`, s.port);
      duration(`${sp}.inter`, s.inter);
      duration(`${sp}.fastinter`, s.fastinter);
      duration(`${sp}.downinter`, s.downinter);
      duration(`${sp}.slowstart`, s.slowstart);
      positive(`${sp}.fall`, s.fall, "fall");
      positive(`${sp}.rise`, s.rise, "rise");
      positive(`${sp}.maxconn`, s.maxconn, "maxconn");
      token(`${sp}.caFile`, s.caFile, "ca-file");
      token(`${sp}.checkSni`, s.checkSni, "check-sni");
      token(`${sp}.verifyHost`, s.verifyHost, "verifyhost");
      if (s.verify === "required" && !s.caFile) {
        err(
          `${sp}.caFile`,
          "verify-without-ca",
          "verify required needs a ca-file",
          "set caFile to the cluster CA, or verify: none",
        );
      }
      if ((s.verify || s.caFile || s.checkSni || s.verifyHost) && !s.checkSsl) {
        err(
          `${sp}.checkSsl`,
          "tls-options-without-check-ssl",
          "TLS check options are set but checkSsl is not",
        );
      }
      if (b.healthCheck && !s.check) {
        err(
          `${sp}.check`,
          "server-not-checked",
          `backend '${b.name}' has a health check but server '${s.name}' is not checked`,
          "set check: true, or a dead server stays in the pool",
        );
      }
    });
  });

  config.frontends.forEach((f, i) => {
    const p = `frontends[${i}]`;
    claim(p, f.name);
    if (f.binds.length === 0) err(`${p}.binds`, "no-bind", `frontend '${f.name}' binds no address`);
    for (const [j, b] of f.binds.entries()) claimBind(`${p}.binds[${j}]`, b);
    const backend = config.backends.find((b) => b.name === f.defaultBackend);
    if (!backend) {
      err(
        `${p}.defaultBackend`,
        "unknown-backend",
        `backend '${f.defaultBackend}' does not exist`,
        `one of: ${config.backends.map((b) => b.name).join(", ") || "(no backends)"}`,
      );
    } else if (backend.mode !== f.mode) {
      err(
        `${p}.mode`,
        "mode-mismatch",
        `frontend '${f.name}' is mode ${f.mode} but backend '${backend.name}' is mode ${backend.mode}`,
        "use the same mode on both",
      );
    }
  });

  config.stats?.forEach((s, i) => {
    const p = `stats[${i}]`;
    claim(p, s.name);
    claimBind(`${p}.bind`, s.bind);
    if (!/^\/[^\s#;]*$/.test(s.uri)) err(`${p}.uri`, "invalid-path", `'${s.uri}' is not an absolute path`);
    duration(`${p}.refresh`, s.refresh);
  });
  return issues;
}

function dur(d: Duration): string {
  return typeof d === "number" ? `${d}ms` : d;
}

function hostPort(b: { address: string; port: number }): string {
  return `${b.address}:${b.port}`;
}

function globalLines(g: GlobalSection): string[] {
  const out: string[] = [];
  for (const l of g.log ?? []) out.push(`log ${l.address} ${l.facility}${l.level ? ` ${l.level}` : ""}`);
  if (g.chroot) out.push(`chroot ${g.chroot}`);
  if (g.pidfile) out.push(`pidfile ${g.pidfile}`);
  if (g.statsSocket) {
    const s = g.statsSocket;
    out.push(`stats socket ${s.path} mode ${s.mode} level ${s.level}`);
  }
  if (g.statsTimeout !== undefined) out.push(`stats timeout ${dur(g.statsTimeout)}`);
  if (g.user) out.push(`user ${g.user}`);
  if (g.group) out.push(`group ${g.group}`);
  if (g.daemon) out.push("daemon");
  if (g.maxconn !== undefined) out.push(`maxconn ${g.maxconn}`);
  return out;
}

function defaultsLines(d: DefaultsSection): string[] {
  const out = [`mode ${d.mode}`];
  if (d.logGlobal) out.push("log global");
  for (const o of d.options ?? []) out.push(`option ${o}`);
  if (d.redispatch !== undefined) out.push(`option redispatch ${d.redispatch}`);
  if (d.retries !== undefined) out.push(`retries ${d.retries}`);
  for (const [key, keyword] of TIMEOUT_KEYWORDS) {
    const v = d.timeouts[key];
    if (v !== undefined) out.push(`timeout ${keyword} ${dur(v)}`);
  }
  return out;
}

function healthCheckLines(hc: HealthCheck): string[] {
  if (hc.kind === "tcp") return ["option tcp-check"];
  return [
    "option httpchk",
    `http-check send meth ${hc.method} uri ${hc.path}${hc.host ? ` ver HTTP/1.1 hdr Host ${hc.host}` : ""}`,
    `http-check expect status ${hc.expectStatus}`,
  ];
}

function serverLine(s: Server): string {
  const parts = ["server", s.name, hostPort(s)];
  if (s.check) parts.push("check");
  if (s.checkSsl) parts.push("check-ssl");
  if (s.checkSni) parts.push("check-sni", s.checkSni);
  if (s.verify) parts.push("verify", s.verify);
  if (s.caFile) parts.push("ca-file", s.caFile);
  if (s.verifyHost) parts.push("verifyhost", s.verifyHost);
  if (s.inter !== undefined) parts.push("inter", dur(s.inter));
  if (s.fastinter !== undefined) parts.push("fastinter", dur(s.fastinter));
  if (s.downinter !== undefined) parts.push("downinter", dur(s.downinter));
  if (s.fall !== undefined) parts.push("fall", String(s.fall));
  if (s.rise !== undefined) parts.push("rise", String(s.rise));
  if (s.onMarkedDown) parts.push("on-marked-down", s.onMarkedDown);
  if (s.slowstart !== undefined) parts.push("slowstart", dur(s.slowstart));
  if (s.maxconn !== undefined) parts.push("maxconn", String(s.maxconn));
  return parts.join(" ");
}

function statsLines(s: StatsListener): string[] {
  const out = [`bind ${hostPort(s.bind)}`, "mode http", "stats enable", `stats uri ${s.uri}`];
  if (s.refresh !== undefined) out.push(`stats refresh ${dur(s.refresh)}`);
  return out;
}

function section(title: string, lines: string[]): string {
  return [title, ...lines.map((l) => `    ${l}`)].join("\n");
}

/**
 * Renders a model into haproxy.cfg text: header comments, global, defaults, frontends, backends,
 * stats listeners — in that order, fields in a fixed order, 4-space indents, one trailing newline.
 * Deterministic: the same model always gives the same bytes. Throws HaproxyConfigError listing
 * every problem when the model is invalid.
 */
export function renderHaproxyConfig(config: HaproxyConfig): string {
  const issues = validateHaproxyConfig(config);
  if (issues.length > 0) throw new HaproxyConfigError("INVALID_HAPROXY_CONFIG", issues);
  const blocks: string[] = [];
  if (config.header?.length) {
    blocks.push(config.header.map((l) => (l ? `# ${l}` : "#")).join("\n"));
  }
  blocks.push(section("global", globalLines(config.global)));
  blocks.push(section("defaults", defaultsLines(config.defaults)));
  for (const f of config.frontends) {
    const lines = [
      ...f.binds.map((b) => `bind ${hostPort(b)}`),
      `mode ${f.mode}`,
      ...(f.options ?? []).map((o) => `option ${o}`),
      `default_backend ${f.defaultBackend}`,
    ];
    blocks.push(section(`frontend ${f.name}`, lines));
  }
  for (const b of config.backends) {
    const lines = [
      `mode ${b.mode}`,
      `balance ${b.balance}`,
      ...(b.options ?? []).map((o) => `option ${o}`),
      ...(b.healthCheck ? healthCheckLines(b.healthCheck) : []),
      ...b.servers.map(serverLine),
    ];
    blocks.push(section(`backend ${b.name}`, lines));
  }
  for (const s of config.stats ?? []) blocks.push(section(`listen ${s.name}`, statsLines(s)));
  return `${blocks.join("\n\n")}\n`;
}
