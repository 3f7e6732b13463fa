import { describe, expect, it } from "vitest";
import { apiLoadBalancer } from "./api-load-balancer";
import { HaproxyConfigError } from "./errors";
import type { HaproxyConfig } from "./model";
import { renderHaproxyConfig, validateHaproxyConfig } from "./render";

function base(): HaproxyConfig {
  return apiLoadBalancer({
    bind: { address: "10.0.0.1", port: 6443 },
    servers: [
      { name: "a", address: "10.0.0.11" },
      { name: "b", address: "10.0.0.12", port: 7443 },
    ],
  });
}

function codes(config: HaproxyConfig): string[] {
  return validateHaproxyConfig(config).map((i) => `${i.path} ${i.code}`);
}

describe("renderHaproxyConfig", () => {
  it("is deterministic and ends with one newline", () => {
    const text = renderHaproxyConfig(base());
    expect(renderHaproxyConfig(base())).toBe(text);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.endsWith("\n\n")).toBe(false);
  });

  it("writes sections in order and defaults each server port to 6443", () => {
    const text = renderHaproxyConfig(base());
    const titles = text.split("\n").filter((l) => /^[a-z]/.test(l));
    expect(titles).toEqual([
      "global",
      "defaults",
      "frontend kubernetes",
      "backend kubernetes-control-planes",
      "listen stats",
    ]);
    expect(text).toContain("    server a 10.0.0.11:6443 check inter 2s");
    expect(text).toContain("    server b 10.0.0.12:7443 check inter 2s");
  });

  it("renders number durations as milliseconds", () => {
    const c = base();
    c.defaults.timeouts.connect = 1500;
    expect(renderHaproxyConfig(c)).toContain("timeout connect 1500ms");
  });

  it("throws a typed error listing every problem", () => {
    const c = base();
    c.backends[0]!.servers[1]!.name = "a";
    c.backends[0]!.servers[0]!.port = 70000;
    let err: unknown;
    try {
      renderHaproxyConfig(c);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HaproxyConfigError);
    const e = err as HaproxyConfigError;
    expect(e.code).toBe("INVALID_HAPROXY_CONFIG");
    expect(e.issues.map((i) => i.code).sort()).toEqual(["duplicate-server", "invalid-port"]);
    expect(e.message).toContain("backends[0].servers[0].port: 70000 is not a TCP port (fix: use 1-65535)");
  });
});

describe("validateHaproxyConfig", () => {
  it("accepts the API load balancer", () => {
    expect(validateHaproxyConfig(base())).toEqual([]);
  });

  it("names the field of each problem", () => {
    const c = base();
    c.frontends[0]!.defaultBackend = "nope";
    c.frontends[0]!.binds[0]!.address = "10.0.0.1 6443";
    c.backends[0]!.name = "bad name";
    c.backends[0]!.servers[0]!.inter = "2 seconds" as never;
    c.backends[0]!.servers[0]!.fall = 0;
    c.backends[0]!.servers[1]!.check = false;
    expect(codes(c)).toEqual([
      "backends[0].name invalid-name",
      "backends[0].servers[0].inter invalid-duration",
      "backends[0].servers[0].fall invalid-count",
      "backends[0].servers[1].check server-not-checked",
      "frontends[0].binds[0].address invalid-address",
      "frontends[0].defaultBackend unknown-backend",
    ]);
  });

  it("catches a mode mismatch, duplicate proxies, and TLS options without check-ssl", () => {
    const c = base();
    c.frontends[0]!.mode = "http";
    c.stats![0]!.name = "kubernetes";
    c.stats![0]!.bind = { address: "10.0.0.1", port: 6443 };
    c.backends[0]!.servers[0]!.caFile = "/etc/haproxy/ca.crt";
    c.backends[0]!.servers[0]!.verify = "required";
    expect(codes(c)).toEqual([
      "backends[0].servers[0].checkSsl tls-options-without-check-ssl",
      "frontends[0].mode mode-mismatch",
      "stats[0].name duplicate-proxy",
      "stats[0].bind duplicate-bind",
    ]);
    c.backends[0]!.servers[0]!.checkSsl = true;
    c.backends[0]!.servers[0]!.caFile = undefined;
    expect(codes(c)).toContain("backends[0].servers[0].caFile verify-without-ca");
  });

  it("refuses tokens that would break the line structure", () => {
    const c = base();
    c.global.chroot = "/var/lib/haproxy # x";
    c.backends[0]!.servers = [];
    expect(codes(c)).toEqual(["global.chroot invalid-token", "backends[0].servers no-servers"]);
  });

  it("rejects an unknown health check kind", () => {
    expect(() =>
      apiLoadBalancer({
        bind: { address: "10.0.0.1", port: 6443 },
        servers: [],
        healthCheck: "icmp" as never,
      }),
    ).toThrow(/'icmp' is not a health check/);
  });
});
