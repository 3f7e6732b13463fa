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

  it("keeps every host inside 198.18.0.0/27 and refuses more nodes than it holds", () => {
    const hosts = labHosts({
      nodes: [
        { name: "a", role: "worker", address: "192.168.56.100" },
        ...Array.from({ length: 12 }, (_, i) => ({ name: `w${i}`, role: "worker" as const })),
      ],
    });
    expect(hosts[0]!.address).toBe("198.18.0.21");
    expect(hosts.map((h) => Number(h.address.split(".")[3])).every((o) => o >= 2 && o <= 30)).toBe(true);
    expect(new Set(hosts.map((h) => h.address)).size).toBe(13);
    const many = Array.from({ length: 30 }, (_, i) => ({ name: `n${i}`, role: "worker" as const }));
    expect(() => labHosts({ nodes: many })).toThrow(
      /more nodes than the lab network 198\.18\.0\.0\/27 holds/,
    );
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

  it("gives host0 a static address, no gateway, a default route on the link", () => {
    const text = renderHost0Network(hosts[0]!);
    expect(text).toContain("Name=host0");
    expect(text).toContain("Address=198.18.0.11/27");
    expect(text).not.toMatch(/Gateway|DNS|DHCP/);
    // a default route on the link (host-network pods need one), never through a gateway
    expect(text).toContain("[Route]\nDestination=0.0.0.0/0\nScope=link\n");
  });

  it("derives names that fit Linux's 15-character interface limit", () => {
    expect(labNames("abcdefghijk").bridge.length).toBeLessThanOrEqual(15);
  });
});
