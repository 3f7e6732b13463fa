import { API_BACKEND_NAME } from "./api-load-balancer";
import { HaproxyConfigError } from "./errors";

/** One row of HAProxy's CSV statistics (`/stats;csv` on the stats listener, `show stat` on the socket). */
export interface HaproxyStatRow {
  /** Proxy (frontend, backend or listen section). */
  proxy: string;
  /** Server name, or FRONTEND / BACKEND for the proxy's own row. */
  name: string;
  /** UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (coming up), MAINT, no check, OPEN… */
  status: string;
  /** Last health check result, e.g. L4OK, L4CON (refused), L4TOUT, L6RSP, L7OK, L7STS (bad status). */
  checkStatus: string;
  /** Seconds since the last UP/DOWN change. */
  lastChange: number | undefined;
  /** Sessions handled since start. */
  sessions: number;
  /** Every column by its header name, as text. */
  fields: Record<string, string>;
}

/** Parses HAProxy's CSV statistics (header line `# pxname,svname,…`). Throws HaproxyConfigError on other text. */
export function parseHaproxyStats(csv: string): HaproxyStatRow[] {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== "");
  const head = lines.shift();
  if (!head?.startsWith("# pxname,svname,")) {
    throw new HaproxyConfigError("INVALID_HAPROXY_CONFIG", [
      {
        path: "stats",
        code: "not-stats-csv",
        message: "is not HAProxy CSV statistics (no '# pxname,svname,' header)",
        hint: "fetch http://127.0.0.1:8404/stats;csv on the load balancer",
      },
    ]);
  }
  const cols = head.slice(2).split(",");
  return lines.map((line) => {
    const values = line.split(",");
    const fields: Record<string, string> = {};
    cols.forEach((c, i) => {
      if (c) fields[c] = values[i] ?? "";
    });
    const num = (k: string) => (fields[k] === undefined || fields[k] === "" ? undefined : Number(fields[k]));
    return {
      proxy: fields["pxname"] ?? "",
      name: fields["svname"] ?? "",
      status: fields["status"] ?? "",
      checkStatus: fields["check_status"] ?? "",
      lastChange: num("lastchg"),
      sessions: num("stot") ?? 0,
      fields,
    };
  });
}

export interface ApiBackendHealth {
  /** Every control plane server of the API backend. */
  servers: HaproxyStatRow[];
  /** Servers taking traffic (UP, or "UP n/m" on their way down). */
  up: string[];
  /** Servers out of the pool. */
  down: string[];
}

/**
 * The API backend's servers from HAProxy's statistics: which control planes take traffic and which
 * are out — for a doctor check ("the LB keeps sending to a dead master", or no master at all).
 */
export function apiBackendHealth(csv: string, backend = API_BACKEND_NAME): ApiBackendHealth {
  const servers = parseHaproxyStats(csv).filter(
    (r) => r.proxy === backend && r.name !== "BACKEND" && r.name !== "FRONTEND",
  );
  return {
    servers,
    up: servers.filter((s) => s.status.startsWith("UP")).map((s) => s.name),
    down: servers.filter((s) => !s.status.startsWith("UP")).map((s) => s.name),
  };
}
