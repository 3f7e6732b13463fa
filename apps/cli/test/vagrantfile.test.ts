import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultClusterSpec, VAGRANT_NODES } from "@khw/spec";
import { describe, expect, it } from "vitest";

// Vagrant itself is not on these machines: read the Vagrantfile's node table as text.
const text = readFileSync(join(__dirname, "../../../Vagrantfile"), "utf8");
const rows = [
  ...text.matchAll(
    /\{ name: "([^"]+)",\s*ip: "([^"]+)",\s*ssh_port: (\d+),\s*memory: (\d+),\s*cpus: (\d+) \}/g,
  ),
].map((m) => ({ name: m[1]!, ip: m[2]!, sshPort: Number(m[3]), memory: Number(m[4]), cpus: Number(m[5]) }));

describe("the Vagrantfile agrees with the default spec", () => {
  it("has the same hosts, addresses and forwarded SSH ports", () => {
    const spec = defaultClusterSpec();
    expect(rows.map((r) => [r.name, r.ip, r.sshPort])).toEqual(
      spec.nodes.map((n) => [n.name, n.address, n.ssh.port]),
    );
    expect(rows.map((r) => r.name)).toEqual(VAGRANT_NODES.map((n) => n.name));
  });
  it("fits a 16 GB laptop", () => {
    const total = rows.reduce((sum, r) => sum + r.memory, 0);
    expect(total).toBeLessThanOrEqual(8192);
  });
  it("forwards SSH on 127.0.0.1 only, uses jammy, and provisions what preflight checks", () => {
    expect(text).toContain('config.vm.box = "ubuntu/jammy64"');
    expect(text).toMatch(
      /forwarded_port", id: "ssh", guest: 22, host: n\[:ssh_port\], host_ip: "127\.0\.0\.1"/,
    );
    for (const needle of [
      "swapoff -a",
      "br_netfilter",
      "overlay",
      "net.bridge.bridge-nf-call-iptables = 1",
      "net.ipv4.ip_forward = 1",
      "net.bridge.bridge-nf-call-ip6tables = 1",
    ]) {
      expect(text).toContain(needle);
    }
  });
  it("the SSH user and key paths of the default spec are Vagrant's", () => {
    for (const n of defaultClusterSpec().nodes) {
      expect(n.ssh.user).toBe("vagrant");
      expect(n.ssh.identityFile).toBe(`.vagrant/machines/${n.name}/virtualbox/private_key`);
    }
  });
});
