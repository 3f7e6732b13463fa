import { describe, expect, it } from "vitest";
import { LabError } from "./errors";
import { DEFAULT_LAB_TOPOLOGY, labHosts, labNames, renderEtcHosts, renderHost0Network } from "./topology";

describe("labHosts", () => {
  it("maps the default spec onto the Vagrant layout's last octets", () => {
    expect(labHosts(DEFAULT_LAB_TOPOLOGY).map((h) => `${h.name}=${h.address}`)).toEqual([
      "master-1=198.18.0.11",
      "master-2=198.18.0.12",
      "worker-1=198.18.0.21",
      "worker-2=198.18.0.22",
      "loadbalancer=198.18.0.30",
    ]);
  });

  it("gives nodes without a usable address the next free octet of their role", () => {
    const hosts = labHosts({
      nodes: [
        { name: "a", role: "controlplane" },
        { name: "b", role: "controlplane", address: "10.0.0.11" },
        { name: "c", role: "worker", address: "10.0.0.1" },
        { name: "d", role: "loadbalancer", address: "not-an-ip" },
      ],
    });
    expect(hosts.map((h) => h.address)).toEqual(["198.18.0.12", "198.18.0.11", "198.18.0.21", "198.18.0.30"]);
  });

  it("rejects duplicate and invalid names with the node named", () => {
    expect(() =>
      labHosts({
        nodes: [
          { name: "x", role: "worker" },
          { name: "x", role: "worker" },
        ],
      }),
    ).toThrow(/x.*appears twice/);
    try {
      labHosts({ nodes: [{ name: "Bad_Name", role: "worker" }] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(LabError);
      expect((err as LabError).code).toBe("LAB_SPEC_INVALID");
      expect((err as LabError).host).toBe("Bad_Name");
      expect((err as LabError).message).toMatch(/Fix: /);
    }
  });
});

describe("host files", () => {
  const hosts = labHosts(DEFAULT_LAB_TOPOLOGY);

  it("lists every node in /etc/hosts", () => {
    const text = renderEtcHosts(hosts);
    expect(text).toContain("127.0.0.1\tlocalhost\n");
    for (const h of hosts) expect(text).toContain(`${h.address}\t${h.name}\n`);
  });

  it("gives host0 a static address and no gateway", () => {
    const text = renderHost0Network(hosts[0]!);
    expect(text).toContain("Name=host0");
    expect(text).toContain("Address=198.18.0.11/24");
    expect(text).not.toMatch(/Gateway|DNS|DHCP/);
  });

  it("derives names that fit Linux's 15-character interface limit", () => {
    expect(labNames("abcdefghijk").bridge.length).toBeLessThanOrEqual(15);
  });
});
