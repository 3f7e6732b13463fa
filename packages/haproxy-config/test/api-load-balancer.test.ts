import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, loadCluster } from "@khw/spec";
import { afterAll, describe, expect, it } from "vitest";
import {
  API_BACKEND_NAME,
  apiLoadBalancerConfig,
  apiLoadBalancerFromCluster,
  DEFAULT_HEALTH_CHECK_TIMING,
  HAPROXY_CA_PATH,
  HAPROXY_CONFIG_PATH,
  HaproxyConfigError,
  haproxyFilesFromCluster,
} from "../src/index";
import { defaultCluster, expectGolden, haproxyCheck, makeApiserverCert, unusualCluster } from "./_support";

const tmp = mkdtempSync(join(tmpdir(), "khw-haproxy-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An independent reading of haproxy.cfg: sections (unindented lines) and their keyword lines. */
function parseCfg(text: string): Map<string, string[][]> {
  const sections = new Map<string, string[][]>();
  let current: string[][] | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trimEnd();
    if (!line.trim()) continue;
    if (!/^\s/.test(line)) {
      current = [];
      sections.set(line.trim().split(/\s+/).join(" "), current);
    } else current?.push(line.trim().split(/\s+/));
  }
  return sections;
}

function checkWithHaproxy(name: string, text: string): void {
  const file = join(tmp, name);
  writeFileSync(file, text);
  const r = haproxyCheck(file);
  expect(r.output).toContain("Configuration file is valid");
  expect(r.ok, r.output).toBe(true);
}

/** Facts that break clusters when wrong, read back from the text. */
function expectApiFacts(text: string, cluster: Cluster): void {
  const cfg = parseCfg(text);
  expect([...cfg.keys()]).toEqual([
    "global",
    "defaults",
    "frontend kubernetes",
    `backend ${API_BACKEND_NAME}`,
    "listen stats",
  ]);
  const defaults = cfg.get("defaults")!;
  expect(defaults).toContainEqual(["mode", "tcp"]);
  for (const t of ["connect", "client", "server", "check"]) {
    expect(defaults.some((l) => l[0] === "timeout" && l[1] === t)).toBe(true);
  }
  const frontend = cfg.get("frontend kubernetes")!;
  expect(frontend).toContainEqual(["bind", `${cluster.loadBalancer!.address}:6443`]);
  expect(frontend).toContainEqual(["mode", "tcp"]);
  expect(frontend).toContainEqual(["option", "tcplog"]);
  expect(frontend).toContainEqual(["default_backend", API_BACKEND_NAME]);
  const backend = cfg.get(`backend ${API_BACKEND_NAME}`)!;
  expect(backend).toContainEqual(["balance", "roundrobin"]);
  const servers = backend.filter((l) => l[0] === "server");
  expect(servers.map((l) => [l[1], l[2]])).toEqual(
    cluster.controlPlanes.map((n) => [n.name, `${n.address}:6443`]),
  );
  for (const s of servers) {
    expect(s).toContain("check");
    const arg = (k: string) => s[s.indexOf(k) + 1];
    expect(arg("fall")).toBe("3");
    expect(arg("rise")).toBe("2");
    expect(arg("inter")).toBe("2s");
    expect(arg("fastinter")).toBe("1s");
  }
  // Stats only on loopback by default.
  expect(cfg.get("listen stats")).toContainEqual(["bind", "127.0.0.1:8404"]);
}

describe("the API load balancer of the default spec", () => {
  const cluster = defaultCluster();

  it("is valid for haproxy -c and matches its golden file (tcp check)", () => {
    const text = apiLoadBalancerConfig(cluster);
    expectGolden("default.haproxy.cfg", text);
    checkWithHaproxy("default.cfg", text);
    expectApiFacts(text, cluster);
    expect(parseCfg(text).get(`backend ${API_BACKEND_NAME}`)).toContainEqual(["option", "tcp-check"]);
  });

  it("with the https-readyz check: GET /readyz over TLS, verified against the CA", async () => {
    // haproxy -c loads the ca-file, so it must exist and hold a certificate.
    const { ca } = await makeApiserverCert(tmp, cluster);
    const text = apiLoadBalancerConfig(cluster, {
      healthCheck: "https-readyz",
      tlsVerify: { caFile: ca, serverName: "kubernetes" },
    });
    checkWithHaproxy("readyz-verify.cfg", text);
    expectApiFacts(text, cluster);
    const backend = parseCfg(text).get(`backend ${API_BACKEND_NAME}`)!;
    expect(backend).toContainEqual(["option", "httpchk"]);
    expect(backend).toContainEqual(["http-check", "send", "meth", "GET", "uri", "/readyz"]);
    expect(backend).toContainEqual(["http-check", "expect", "status", "200"]);
    for (const s of backend.filter((l) => l[0] === "server")) {
      expect(s.join(" ")).toContain(`check-ssl check-sni kubernetes verify required ca-file ${ca}`);
    }
  });

  it("with the https-readyz check and verify none: golden file", () => {
    const text = apiLoadBalancerConfig(cluster, { healthCheck: "https-readyz" });
    expectGolden("default-readyz.haproxy.cfg", text);
    checkWithHaproxy("readyz.cfg", text);
    expect(text).toContain("check check-ssl verify none inter 2s");
  });

  it("is one file for the load balancer node, byte-identical across runs", () => {
    const files = haproxyFilesFromCluster(cluster);
    expect(files).toEqual([
      {
        host: "loadbalancer",
        path: HAPROXY_CONFIG_PATH,
        mode: 0o644,
        contents: apiLoadBalancerConfig(cluster),
      },
    ]);
    expect(haproxyFilesFromCluster(defaultCluster())[0]!.contents).toBe(files[0]!.contents);
  });

  it("ships the CA certificate for a verified https-readyz check — and refuses a key, junk, or a tcp check", async () => {
    const { ca } = await makeApiserverCert(tmp, cluster);
    const caPem = readFileSync(ca, "utf8");
    const files = haproxyFilesFromCluster(cluster, { healthCheck: "https-readyz", caCertificate: caPem });
    expect(files.map((f) => [f.host, f.path, f.mode, f.secret])).toEqual([
      ["loadbalancer", HAPROXY_CONFIG_PATH, 0o644, undefined],
      ["loadbalancer", HAPROXY_CA_PATH, 0o644, undefined],
    ]);
    expect(files[1]!.contents).toBe(caPem);
    const cfg = files[0]!.contents;
    expect(cfg).toContain(
      `check-ssl check-sni kubernetes verify required ca-file ${HAPROXY_CA_PATH} verifyhost kubernetes`,
    );
    // haproxy -c loads the ca-file: point it at where this test wrote the CA.
    checkWithHaproxy("shipped-ca.cfg", cfg.replaceAll(HAPROXY_CA_PATH, ca));
    const refuse = (caCertificate: string, healthCheck: "tcp" | "https-readyz", code: string) => {
      try {
        haproxyFilesFromCluster(cluster, { healthCheck, caCertificate });
        expect.unreachable();
      } catch (e) {
        expect((e as HaproxyConfigError).issues[0]!.code).toBe(code);
        expect((e as HaproxyConfigError).message).toMatch(/^caCertificate: /);
      }
    };
    refuse(
      `${caPem}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`,
      "https-readyz",
      "private-key",
    );
    refuse("hello", "https-readyz", "not-a-certificate");
    refuse(caPem, "tcp", "ca-unused");
  });

  it("honours bind, stats and timing overrides", () => {
    const text = apiLoadBalancerConfig(cluster, {
      bind: { address: "127.0.0.1", port: 16443 },
      stats: false,
      timing: { inter: "500ms", fall: 2 },
    });
    checkWithHaproxy("overrides.cfg", text);
    const cfg = parseCfg(text);
    expect(cfg.get("frontend kubernetes")).toContainEqual(["bind", "127.0.0.1:16443"]);
    expect(cfg.has("listen stats")).toBe(false);
    const s = cfg.get(`backend ${API_BACKEND_NAME}`)!.find((l) => l[0] === "server")!;
    expect(s.join(" ")).toContain(
      `inter 500ms fastinter ${DEFAULT_HEALTH_CHECK_TIMING.fastinter} downinter ${DEFAULT_HEALTH_CHECK_TIMING.downinter} fall 2 rise 2`,
    );
  });
});

describe("the API load balancer of an unusual spec (3 masters, 1 worker, custom CIDRs)", () => {
  const cluster = unusualCluster();
  it("is valid for haproxy -c, matches its golden file and balances all three masters", () => {
    const text = apiLoadBalancerConfig(cluster);
    expectGolden("unusual.haproxy.cfg", text);
    checkWithHaproxy("unusual.cfg", text);
    expectApiFacts(text, cluster);
    expect(apiLoadBalancerFromCluster(cluster).backends[0]!.servers).toHaveLength(3);
  });
});

describe("haproxy -c bites", () => {
  it("rejects a config whose balance keyword was mangled", () => {
    const text = apiLoadBalancerConfig(defaultCluster()).replace("balance roundrobin", "balance roundrobyn");
    const file = join(tmp, "broken.cfg");
    writeFileSync(file, text);
    const r = haproxyCheck(file);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/broken.cfg:\d+\] : balance only supports/);
  });
});

describe("a cluster without a load balancer", () => {
  const single = loadCluster({
    nodes: [{ name: "solo", role: "controlplane", address: "192.168.56.11" }],
  }).cluster;
  it("gets no haproxy files", () => {
    expect(haproxyFilesFromCluster(single)).toEqual([]);
  });
  it("cannot have an API load balancer config: a typed error with a hint", () => {
    let err: unknown;
    try {
      apiLoadBalancerConfig(single);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HaproxyConfigError);
    expect((err as HaproxyConfigError).code).toBe("NO_LOAD_BALANCER");
    expect((err as HaproxyConfigError).hint).toMatch(/role: loadbalancer/);
    expect((err as HaproxyConfigError).message).toMatch(/^nodes: /);
  });
});
