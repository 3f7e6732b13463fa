import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { servingCsrObject, servingCsrPem } from "../src/csr";
import {
  defaultCluster,
  deriveSpec,
  loopbackUnusualCluster,
  singleMasterCluster,
  unusualCluster,
  unusualSpec,
} from "../src/fixtures";
import { goldenFile } from "../src/golden";
import { freePort, Processes, waitFor } from "../src/processes";

const tmp = mkdtempSync(join(tmpdir(), "khw-test-kit-"));
const procs = new Processes();
afterAll(async () => {
  await procs.stopAll(0);
  rmSync(tmp, { recursive: true, force: true });
});

describe("fixtures", () => {
  it("the default and the unusual spec are valid and as described", () => {
    expect(defaultCluster().nodes.map((n) => n.name)).toEqual([
      "master-1",
      "master-2",
      "worker-1",
      "worker-2",
      "loadbalancer",
    ]);
    const u = unusualCluster();
    expect(u.controlPlanes.map((n) => n.name)).toEqual(["cp-a", "cp-b", "cp-c"]);
    expect(u.workers.map((n) => [n.name, n.kubeletCredentials])).toEqual([["node-1", "tls-bootstrap"]]);
    expect(u.network.dnsServiceIP).toBe("10.32.0.53");
    expect(u.network.clusterDomain).toBe("lab.example");
    expect(singleMasterCluster().controlPlanes).toHaveLength(1);
  });

  it("deriveSpec renames, readdresses and replaces sections, leaving the base untouched", () => {
    const base = unusualSpec();
    const before = JSON.stringify(base);
    const d = deriveSpec(base, {
      name: "x",
      rename: { "cp-a": "one" },
      address: (i) => `127.0.0.${10 + i}`,
      node: (n) => (n.role === "worker" ? { ...n, kubelet: { credentials: "certificate" } } : n),
    });
    expect(JSON.stringify(base)).toBe(before);
    expect(d.name).toBe("x");
    expect(d.nodes.map((n) => [n.name, n.address])).toEqual([
      ["one", "127.0.0.10"],
      ["cp-b", "127.0.0.11"],
      ["cp-c", "127.0.0.12"],
      ["node-1", "127.0.0.13"],
      ["api-lb", "127.0.0.14"],
    ]);
    expect(d.nodes[3]!.kubelet).toEqual({ credentials: "certificate" });
    expect(d.network).toEqual(base.network);
    const loop = loopbackUnusualCluster();
    expect(loop.nodes.map((n) => `${n.name}=${n.address}`)).toEqual([
      "cp-a=127.0.0.11",
      "cp-b=127.0.0.12",
      "cp-c=127.0.0.13",
      "node-x=127.0.0.21",
      "lb=127.0.0.30",
    ]);
  });
});

describe("goldenFile", () => {
  it("writes a missing file outside CI, then compares with it", () => {
    const check = goldenFile(join(tmp, "golden"));
    const saved = process.env["CI"];
    delete process.env["CI"];
    try {
      check("a.txt", "one\n");
    } finally {
      if (saved !== undefined) process.env["CI"] = saved;
    }
    expect(readFileSync(join(tmp, "golden", "a.txt"), "utf8")).toBe("one\n");
    check("a.txt", "one\n");
    expect(() => check("a.txt", "two\n")).toThrow();
  });
});

describe("Processes", () => {
  it("waits for readiness, keeps output, stops by PID", async () => {
    const port = await freePort();
    const child = await procs.start(
      process.execPath,
      ["-e", `require("net").createServer().listen(${port}, "127.0.0.1", () => console.log("listening"))`],
      /listening/,
    );
    expect(procs.pids).toContain(child.pid);
    expect(procs.output(child)).toContain("listening");
    let polls = 0;
    await waitFor("two polls", () => ({ done: ++polls >= 2, seen: String(polls) }), 5000);
    await procs.stop(child);
    expect(procs.pids).not.toContain(child.pid);
    await expect(procs.start(process.execPath, ["-e", "process.exit(3)"], /never/)).rejects.toThrow(
      /exited \(3\)/,
    );
    await expect(waitFor("nothing", () => ({ done: false, seen: "still no" }), 300)).rejects.toThrow(
      /gave up waiting for nothing; last seen: still no/,
    );
  });
});

describe("servingCsrPem", () => {
  it("makes a request openssl verifies, with the kubelet's subject, key type and SANs", () => {
    const key = join(tmp, "n.key");
    const pem = servingCsrPem("node-1", ["DNS:node-1", "IP:10.0.0.5"], key);
    expect(existsSync(key)).toBe(true);
    const file = join(tmp, "n.csr");
    writeFileSync(file, pem);
    const text = execFileSync("openssl", ["req", "-in", file, "-noout", "-verify", "-text"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(text).toMatch(/Subject: O ?= ?system:nodes, CN ?= ?system:node:node-1/);
    expect(text).toMatch(/DNS:node-1, IP Address:10.0.0.5/);
    expect(text).toMatch(/prime256v1|P-256/);
    const obj = servingCsrObject("csr-1", pem, { username: "system:node:node-1" });
    expect(obj.spec).toMatchObject({
      signerName: "kubernetes.io/kubelet-serving",
      username: "system:node:node-1",
    });
    expect(Buffer.from(obj.spec["request"] as string, "base64").toString()).toBe(pem);
  });
});
