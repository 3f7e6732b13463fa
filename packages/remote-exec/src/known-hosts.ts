import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** One usable line of an OpenSSH known_hosts file. */
export interface KnownHostsEntry {
  /** 1-based line number in the file (for "offending entry" messages). */
  line: number;
  marker: "cert-authority" | "revoked" | undefined;
  /** The host field as written: `a,b,[c]:2222`, or `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  /** The public key blob (SSH wire format). */
  key: Buffer;
}

/** Parses known_hosts text; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostsEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m === "@cert-authority") marker = "cert-authority";
      else if (m === "@revoked") marker = "revoked";
      else return;
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
    const key = Buffer.from(b64, "base64");
    if (key.length < 8) return;
    entries.push({ line: i + 1, marker, hosts, keyType, key });
  });
  return entries;
}

/** The name OpenSSH looks a host up by: `host` for port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port = 22): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** HMAC-SHA1 hashed host field (`|1|salt|hash`), as `ssh-keygen -H` / `HashKnownHosts yes` write it. */
export function hashKnownHostsName(name: string, salt: Buffer): string {
  const hash = createHmac("sha1", salt).update(name).digest();
  return `|1|${salt.toString("base64")}|${hash.toString("base64")}`;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, "i");
}

/** Whether a known_hosts host field matches `name` (the output of `knownHostsName`). */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash) return false;
    const want = Buffer.from(hash, "base64");
    const got = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  let matched = false;
  for (const raw of field.split(",")) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (pattern === "") continue;
    if (globToRegExp(pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** `SHA256:…` fingerprint of a public key blob, exactly as `ssh-keygen -lf` prints it. */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The key type written inside a public key blob (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`...). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return "unknown";
  const len = key.readUInt32BE(0);
  if (len > key.length - 4 || len > 64) return "unknown";
  return key.subarray(4, 4 + len).toString("latin1");
}

/** A key type as `ssh-keygen -l` shows it: ED25519, RSA, ECDSA. */
export function keyTypeLabel(keyType: string): string {
  if (keyType === "ssh-ed25519") return "ED25519";
  if (keyType === "ssh-rsa") return "RSA";
  if (keyType.startsWith("ecdsa-")) return "ECDSA";
  if (keyType === "ssh-dss") return "DSA";
  return keyType;
}

export type HostKeyVerdict =
  /** A matching entry lists exactly this key. */
  | { status: "known"; entry: KnownHostsEntry }
  /** No entry for this host with this key type (other types may be known: `otherTypes`). */
  | { status: "unknown"; otherTypes: string[] }
  /** An entry for this host has a different key of the same type. */
  | { status: "changed"; entry: KnownHostsEntry }
  /** The key is listed as `@revoked`. */
  | { status: "revoked"; entry: KnownHostsEntry };

/** Checks the key a host presented against parsed known_hosts entries, like OpenSSH does. */
export function checkHostKey(entries: readonly KnownHostsEntry[], name: string, key: Buffer): HostKeyVerdict {
  const type = keyTypeOf(key);
  for (const e of entries) {
    if (e.marker === "revoked" && e.key.equals(key)) return { status: "revoked", entry: e };
  }
  let changed: KnownHostsEntry | undefined;
  const otherTypes = new Set<string>();
  for (const e of entries) {
    if (e.marker !== undefined || !hostFieldMatches(e.hosts, name)) continue;
    if (e.key.equals(key)) return { status: "known", entry: e };
    if (keyTypeOf(e.key) === type) changed ??= e;
    else otherTypes.add(keyTypeOf(e.key));
  }
  if (changed) return { status: "changed", entry: changed };
  return { status: "unknown", otherTypes: [...otherTypes].sort() };
}

/** Key types known for `name`, for ordering the host-key algorithms we offer (as OpenSSH does). */
export function knownKeyTypes(entries: readonly KnownHostsEntry[], name: string): string[] {
  const types = new Set<string>();
  for (const e of entries) {
    if (e.marker === undefined && hostFieldMatches(e.hosts, name)) types.add(keyTypeOf(e.key));
  }
  return [...types];
}

/** One known_hosts line for `name` (hashed when `salt` is given). */
export function formatKnownHostsLine(name: string, key: Buffer, salt?: Buffer): string {
  const field = salt ? hashKnownHostsName(name, salt) : name;
  return `${field} ${keyTypeOf(key)} ${key.toString("base64")}`;
}
