/**
 * Traffic from the admin machine while a lifecycle change runs: a loop of requests (a NodePort on the
 * workers in turn, or the API through the load balancer), 4 a second, every answer recorded, and the
 * failed requests and longest run of failures counted.
 */
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { Agent, request as httpsRequest } from "node:https";

export interface Probe {
  at: number;
  ok: boolean;
  target: string;
  detail: string;
}

/** GET http://addr:port/ with a 1 s budget: ok on 200. */
export function probe(addr: string, port: number): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const req = request({ host: addr, port, path: "/", timeout: 1000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ ok: res.statusCode === 200, detail: `HTTP ${res.statusCode}` }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ ok: false, detail: e.message }));
    req.end();
  });
}

/**
 * An API request as the admin kubeconfig's user (client certificate), through its server (the load
 * balancer): GET `path` with a 2 s budget, ok on 200. The apiserver reads the object from etcd.
 */
export function apiProber(kubeconfigFile: string, path = "/api/v1/namespaces/default") {
  const text = readFileSync(kubeconfigFile, "utf8");
  const field = (name: string) => {
    const m = new RegExp(`${name}:\\s*(\\S+)`).exec(text);
    if (!m) throw new Error(`${kubeconfigFile}: no ${name}`);
    return m[1]!;
  };
  const data = (name: string) => Buffer.from(field(name), "base64");
  const server = field("server");
  const agent = new Agent({
    ca: data("certificate-authority-data"),
    cert: data("client-certificate-data"),
    key: data("client-key-data"),
    keepAlive: false,
  });
  const run = (): Promise<{ ok: boolean; detail: string }> =>
    new Promise((resolve) => {
      const req = httpsRequest(`${server}${path}`, { agent, timeout: 2000 }, (res) => {
        res.resume();
        res.on("end", () => resolve({ ok: res.statusCode === 200, detail: `HTTP ${res.statusCode}` }));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e) => resolve({ ok: false, detail: e.message }));
      req.end();
    });
  return { server, run };
}

/** Calls `send` for each target in turn, 4 a second, until stopped; every answer recorded. */
export function requestLoop(
  targets: string[],
  send: (target: string) => Promise<{ ok: boolean; detail: string }>,
) {
  const probes: Probe[] = [];
  let stopped = false;
  const running = (async () => {
    for (let i = 0; !stopped; i++) {
      const target = targets[i % targets.length]!;
      const at = performance.now();
      const r = await send(target);
      probes.push({ at, ok: r.ok, target, detail: r.detail });
      const wait = 250 - (performance.now() - at);
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
  })();
  return {
    probes,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** Requests the NodePort on the workers in turn, 4 a second, until stopped; every answer recorded. */
export function serveLoop(targets: string[], port: number) {
  return requestLoop(targets, (t) => probe(t, port));
}

/** Failed requests and the longest run of consecutive failures (from its first failure to the next success). */
export function errorStats(probes: Probe[]) {
  let longest = 0;
  let streakStart: number | undefined;
  const streaks: Array<{ from: number; seconds: number; details: string[] }> = [];
  let details: string[] = [];
  for (const p of probes) {
    if (!p.ok) {
      streakStart ??= p.at;
      details.push(`${p.target}: ${p.detail}`);
      continue;
    }
    if (streakStart !== undefined) {
      const seconds = (p.at - streakStart) / 1000;
      streaks.push({ from: streakStart, seconds, details });
      longest = Math.max(longest, seconds);
      streakStart = undefined;
      details = [];
    }
  }
  if (streakStart !== undefined) {
    const seconds = (probes.at(-1)!.at - streakStart) / 1000 + 0.25;
    streaks.push({ from: streakStart, seconds, details });
    longest = Math.max(longest, seconds);
  }
  return { total: probes.length, failed: probes.filter((p) => !p.ok).length, longest, streaks };
}
