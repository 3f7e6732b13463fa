import type { ConnectConfig, ServerHostKeyAlgorithm } from "ssh2";
import { KnownHostsStore } from "./_known-hosts-store.js";
import type { HostKeyChecking, HostKeyEvent, SshExecutorOptions } from "./_ssh-options.js";
import { RemoteExecError } from "./errors.js";
import { checkHostKey, fingerprintSha256, keyTypeLabel, keyTypeOf, knownKeyTypes } from "./known-hosts.js";

const HOST_KEY_ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};
const DEFAULT_HOST_KEY_ORDER = Object.values(HOST_KEY_ALGORITHMS).flat();

type Log = (level: "debug" | "info" | "warn", host: string | undefined, message: string) => void;

/**
 * Host-key checking for one executor: the known_hosts file, the checking mode, and the events a
 * user must see (a key accepted unverified, recorded, or accepted without recording), once per host.
 */
export class HostKeyVerifier {
  readonly #opts: SshExecutorOptions;
  readonly #checking: HostKeyChecking;
  readonly #store: KnownHostsStore;
  readonly #log: Log;
  /** `kind knownHostsName` of the host-key events already reported. */
  readonly #told = new Set<string>();

  constructor(options: SshExecutorOptions, knownHostsFile: string, log: Log) {
    this.#opts = options;
    this.#checking = options.hostKeyChecking ?? "strict";
    this.#store = new KnownHostsStore(knownHostsFile, options.hashKnownHosts ?? false);
    this.#log = log;
  }

  get file(): string {
    return this.#store.file;
  }

  /**
   * The algorithms to offer: like OpenSSH, the key types already known for this host first, so a
   * host with several keys does not look "unknown" just because it offered another type.
   */
  async algorithmsFor(knownName: string): Promise<ConnectConfig["algorithms"]> {
    const algorithms = this.#opts.algorithms;
    if (this.#checking === "insecure" || algorithms?.serverHostKey) return algorithms;
    const known = knownKeyTypes(await this.#store.entries(), knownName);
    if (known.length === 0) return algorithms;
    const first = known.flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? []);
    return {
      ...algorithms,
      serverHostKey: [...first, ...DEFAULT_HOST_KEY_ORDER.filter((a) => !first.includes(a))],
    };
  }

  /** Resolves when the key may be used; rejects with HOST_KEY_CHANGED / HOST_KEY_UNKNOWN (with the fix). */
  async verify(name: string, host: string, port: number, knownName: string, key: Buffer): Promise<void> {
    const fingerprint = fingerprintSha256(key);
    const type = keyTypeOf(key);
    const label = `${keyTypeLabel(type)} ${fingerprint}`;
    const file = this.#store.file;
    const tell = (kind: HostKeyEvent["kind"], line?: number): void => {
      if (this.#told.has(`${kind} ${knownName}`)) return;
      this.#told.add(`${kind} ${knownName}`);
      this.#opts.onHostKey?.({
        kind,
        host: name,
        knownHostsName: knownName,
        keyType: keyTypeLabel(type),
        fingerprint,
        file,
        ...(line !== undefined ? { line } : {}),
      });
    };
    if (this.#checking === "insecure") {
      if (!this.#told.has(`not-verified ${knownName}`)) {
        this.#log(
          "warn",
          name,
          `host key of ${knownName} NOT verified (hostKeyChecking: insecure): ${label}`,
        );
      }
      tell("not-verified");
      return;
    }
    const verdict = checkHostKey(await this.#store.entries(), knownName, key);
    switch (verdict.status) {
      case "known":
        return;
      case "changed": {
        const old = fingerprintSha256(verdict.entry.key);
        throw new RemoteExecError(
          "HOST_KEY_CHANGED",
          `HOST KEY CHANGED for ${knownName}: ${file}:${verdict.entry.line} has ${keyTypeLabel(verdict.entry.keyType)} ${old}, ` +
            `the host presented ${label}. This is a reinstalled host or someone intercepting the connection; refusing to connect`,
          {
            host: name,
            fingerprint,
            hint: `if the host was reinstalled, verify the new fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_${type === "ssh-rsa" ? "rsa" : type === "ssh-ed25519" ? "ed25519" : "ecdsa"}_key.pub), then remove the old entry: ssh-keygen -R '${knownName}' -f ${file}`,
          },
        );
      }
      case "revoked":
        throw new RemoteExecError(
          "HOST_KEY_CHANGED",
          `the host key of ${knownName} (${label}) is marked @revoked in ${file}:${verdict.entry.line}; refusing to connect`,
          { host: name, fingerprint, hint: "the host must get a new host key" },
        );
      case "unknown": {
        if (this.#checking === "accept-new") {
          if (!(this.#opts.recordNewHostKeys ?? true)) {
            await this.#store.remember(knownName, key);
            this.#log("info", name, `new host key for ${knownName} accepted, NOT recorded: ${label}`);
            tell("not-recorded");
            return;
          }
          const line = await this.#store.add(knownName, key);
          this.#log("info", name, `recorded new host key for ${knownName} in ${file}: ${label}`);
          tell("recorded", line);
          return;
        }
        const others =
          verdict.otherTypes.length > 0
            ? ` (known: ${verdict.otherTypes.map(keyTypeLabel).join(", ")} only)`
            : "";
        throw new RemoteExecError(
          "HOST_KEY_UNKNOWN",
          `unknown host key for ${knownName}: ${label} is not in ${file}${others}; strict host-key checking refuses it`,
          {
            host: name,
            fingerprint,
            hint:
              `compare ${fingerprint} with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on its console), then add it: ` +
              `ssh-keyscan -p ${port} -t ${type} ${host} >> ${file} — or connect once with hostKeyChecking "accept-new"`,
          },
        );
      }
    }
  }
}
