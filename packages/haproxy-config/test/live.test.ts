// A real HAProxy on 127.0.0.1, running the generated configuration (with the default health-check
// timing), in front of two Node TLS servers that present the apiserver certificate issued by @khw/pki.
// Requests are balanced across both; after one backend is stopped and the health check has marked it
// DOWN (read from HAProxy's own stats, polled), every request succeeds; it comes back when restarted.
// Every process is stopped by PID in afterAll, also when an assertion fails.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiHealthCheck, apiBackendHealth, apiLoadBalancerText } from "../src/index";
import {
  defaultCluster,
  freePort,
  makeApiserverCert,
  Processes,
  serverStatus,
  statsCsv,
  testDir,
  waitForStatus,
} from "./_support";

const BACKEND_SCRIPT = join(testDir, "fixtures", "tls-backend.mjs");
const tmp = mkdtempSync(join(tmpdir(), "khw-haproxy-live-"));
const procs = new Processes();
let pki: { ca: string; cert: string; key: string };

beforeAll(async () => {
  pki = await makeApiserverCert(tmp, defaultCluster());
});

afterAll(async () => {
  await procs.stopAll();
  rmSync(tmp, { recursive: true, force: true });
});

interface Reply {
  server: string;
  peerCN: string;
}

/** One HTTPS request through the load balancer on a fresh connection, verified against the test CA. */
function callApi(port: number, ca: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path: "/version",
        ca,
        servername: "kubernetes",
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate();
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => {
          try {
            resolve({
              server: (JSON.parse(body) as { server: string }).server,
              peerCN: String(peer.subject?.CN),
            });
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

async function callMany(port: number, ca: Buffer, n: number): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < n; i++) out.push(await callApi(port, ca));
  return out;
}

function count(replies: Reply[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of replies) c[r.server] = (c[r.server] ?? 0) + 1;
  return c;
}

function startBackend(name: string, port: number): Promise<ChildProcess> {
  return procs.start(process.execPath, [BACKEND_SCRIPT, name, String(port), pki.cert, pki.key], /listening/);
}

describe.each<ApiHealthCheck>(["tcp", "https-readyz"])(
  "HAProxy live with the %s health check",
  (healthCheck) => {
    it("balances across both API servers, drops a stopped one, takes it back when restarted", async () => {
      const ca = readFileSync(pki.ca);
      const [lbPort, statsPort, portA, portB] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      const cfg = apiLoadBalancerText({
        clusterName: "live-test",
        bind: { address: "127.0.0.1", port: lbPort },
        servers: [
          { name: "master-1", address: "127.0.0.1", port: portA },
          { name: "master-2", address: "127.0.0.1", port: portB },
        ],
        healthCheck,
        // Verify the backends against the CA, as a careful operator would (the default is verify none).
        ...(healthCheck === "https-readyz"
          ? { tlsVerify: { caFile: pki.ca, serverName: "kubernetes" } }
          : {}),
        stats: { address: "127.0.0.1", port: statsPort },
        // Foreground, unprivileged-friendly: no chroot, user, daemon or syslog. Timing is the default.
        global: { maxconn: 256 },
      });
      const cfgFile = join(tmp, `live-${healthCheck}.cfg`);
      writeFileSync(cfgFile, cfg);

      let hung: NetServer | undefined;
      let a = await startBackend("master-1", portA);
      const b = await startBackend("master-2", portB);
      const haproxy = await procs.start("haproxy", ["-db", "-f", cfgFile], undefined);
      try {
        await waitForStatus(statsPort, "master-1", "UP");
        await waitForStatus(statsPort, "master-2", "UP");

        // Balanced: round robin over fresh connections alternates; TLS passes through untouched.
        const balanced = await callMany(lbPort, ca, 10);
        expect(count(balanced)).toEqual({ "master-1": 5, "master-2": 5 });
        expect(new Set(balanced.map((r) => r.peerCN))).toEqual(new Set(["kube-apiserver"]));

        // master-1 dies. Even before the check notices, retries are redispatched to master-2.
        await procs.stop(a);
        const during = await callMany(lbPort, ca, 4);
        expect(count(during)).toEqual({ "master-2": 4 });

        // Once HAProxy has marked it DOWN, every request succeeds on master-2.
        await waitForStatus(statsPort, "master-1", "DOWN");
        expect((await serverStatus(statsPort))["master-2"]).toBe("UP");
        expect(count(await callMany(lbPort, ca, 10))).toEqual({ "master-2": 10 });

        // Restarted, it comes back and gets its share again.
        a = await startBackend("master-1", portA);
        await waitForStatus(statsPort, "master-1", "UP");
        const back = count(await callMany(lbPort, ca, 10));
        expect(back["master-1"]).toBeGreaterThanOrEqual(4);
        expect(back["master-2"]).toBeGreaterThanOrEqual(4);

        if (healthCheck === "https-readyz") {
          // A running server whose /readyz fails (e.g. cut off from etcd) leaves the pool too:
          // the difference between the two checks.
          b.kill("SIGUSR1");
          await waitForStatus(statsPort, "master-2", "DOWN");
          expect(count(await callMany(lbPort, ca, 6))).toEqual({ "master-1": 6 });
          b.kill("SIGUSR1");
          await waitForStatus(statsPort, "master-2", "UP");

          // A hung apiserver — accepts connections, never answers — is taken out by the check's
          // timeout (a TCP connect alone would keep it in the pool).
          await procs.stop(b);
          const held: Socket[] = [];
          hung = createNetServer((sock) => {
            sock.on("error", () => {}); // HAProxy resets the check connections it gives up on
            held.push(sock);
          });
          await new Promise<void>((res) => hung!.listen(portB, "127.0.0.1", res));
          await waitForStatus(statsPort, "master-2", "DOWN");
          const row = apiBackendHealth(await statsCsv(statsPort)).servers.find((r) => r.name === "master-2")!;
          expect(row.checkStatus).toMatch(/^L[67]TOUT$/);
          expect(count(await callMany(lbPort, ca, 4))).toEqual({ "master-1": 4 });
          for (const sock of held) sock.destroy();
        }
      } finally {
        await procs.stop(haproxy);
        await procs.stop(a);
        await procs.stop(b);
        await new Promise<void>((res) => (hung ? hung.close(() => res()) : res()));
      }
      expect(procs.pids).toEqual([]);
    }, 120_000);
  },
);
