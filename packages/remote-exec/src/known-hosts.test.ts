import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkHostKey,
  fingerprintSha256,
  formatKnownHostsLine,
  hostFieldMatches,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
} from "./known-hosts.js";

let dir: string;
const keys: Record<string, { blob: Buffer; line: string; fingerprint: string }> = {};

function keygen(name: string, type: string): void {
  const path = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", path]);
  const line = readFileSync(`${path}.pub`, "utf8").trim();
  const fp = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${path}.pub`])
    .toString()
    .split(" ")[1]!;
  keys[name] = {
    blob: Buffer.from(line.split(" ")[1]!, "base64"),
    line: line.split(" ").slice(0, 2).join(" "),
    fingerprint: fp,
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "khw-kh-"));
  keygen("a", "ed25519");
  keygen("b", "ed25519");
  keygen("r", "rsa");
  keygen("e", "ecdsa");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("known_hosts", () => {
  it("computes the same SHA256 fingerprints and key types as ssh-keygen", () => {
    for (const k of Object.values(keys)) expect(fingerprintSha256(k.blob)).toBe(k.fingerprint);
    expect(keyTypeOf(keys["a"]!.blob)).toBe("ssh-ed25519");
    expect(keyTypeOf(keys["r"]!.blob)).toBe("ssh-rsa");
    expect(keyTypeOf(keys["e"]!.blob)).toBe("ecdsa-sha2-nistp256");
  });

  it("names hosts like OpenSSH", () => {
    expect(knownHostsName("10.0.0.1")).toBe("10.0.0.1");
    expect(knownHostsName("10.0.0.1", 22)).toBe("10.0.0.1");
    expect(knownHostsName("127.0.0.1", 2222)).toBe("[127.0.0.1]:2222");
  });

  it("matches plain, wildcard, negated and [host]:port entries", () => {
    expect(hostFieldMatches("node-1,10.0.0.1", "10.0.0.1")).toBe(true);
    expect(hostFieldMatches("node-1,10.0.0.1", "10.0.0.2")).toBe(false);
    expect(hostFieldMatches("10.0.0.*", "10.0.0.7")).toBe(true);
    expect(hostFieldMatches("10.0.0.*,!10.0.0.7", "10.0.0.7")).toBe(false);
    expect(hostFieldMatches("node-?", "NODE-3")).toBe(true);
    expect(hostFieldMatches("[127.0.0.1]:2222", "[127.0.0.1]:2222")).toBe(true);
    expect(hostFieldMatches("[127.0.0.1]:2222", "127.0.0.1")).toBe(false);
    expect(hostFieldMatches("127.0.0.1", "[127.0.0.1]:2222")).toBe(false);
  });

  it("matches entries hashed by ssh-keygen -H, and its -F finds the lines we hash", () => {
    const file = join(dir, "kh_hashed");
    writeFileSync(file, `10.0.0.1 ${keys["a"]!.line}\n[127.0.0.1]:2200 ${keys["b"]!.line}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    const entries = parseKnownHosts(readFileSync(file, "utf8"));
    expect(entries.every((e) => e.hosts.startsWith("|1|"))).toBe(true);
    expect(checkHostKey(entries, "10.0.0.1", keys["a"]!.blob).status).toBe("known");
    expect(checkHostKey(entries, "[127.0.0.1]:2200", keys["b"]!.blob).status).toBe("known");
    expect(checkHostKey(entries, "10.0.0.2", keys["a"]!.blob).status).toBe("unknown");

    const ours = join(dir, "kh_ours");
    writeFileSync(ours, `${formatKnownHostsLine("[10.9.9.9]:2022", keys["e"]!.blob, Buffer.alloc(20, 3))}\n`);
    const found = execFileSync("ssh-keygen", ["-F", "[10.9.9.9]:2022", "-f", ours]).toString();
    expect(found).toContain("ecdsa-sha2-nistp256");
  });

  it("tells known, unknown, changed (same type, other key) and revoked apart", () => {
    const text = [
      "# comment",
      "",
      `node-1 ${keys["a"]!.line} comment words`,
      `node-2 ${keys["r"]!.line}`,
      "garbage line",
      `@revoked * ${keys["e"]!.line}`,
      `@cert-authority *.example ${keys["b"]!.line}`,
    ].join("\n");
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => e.line)).toEqual([3, 4, 6, 7]);
    expect(checkHostKey(entries, "node-1", keys["a"]!.blob).status).toBe("known");
    const changed = checkHostKey(entries, "node-1", keys["b"]!.blob);
    expect(changed.status).toBe("changed");
    expect(changed.status === "changed" && changed.entry.line).toBe(3);
    // node-2 only has an RSA key: an ed25519 key is unknown (not changed), with a note about RSA
    expect(checkHostKey(entries, "node-2", keys["a"]!.blob)).toEqual({
      status: "unknown",
      otherTypes: ["ssh-rsa"],
    });
    expect(checkHostKey(entries, "anything", keys["e"]!.blob).status).toBe("revoked");
    // a cert-authority line never vouches for a plain key
    expect(checkHostKey(entries, "x.example", keys["b"]!.blob).status).toBe("unknown");
    expect(knownKeyTypes(entries, "node-2")).toEqual(["ssh-rsa"]);
  });
});
