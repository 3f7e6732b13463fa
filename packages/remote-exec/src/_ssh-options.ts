import type { ConnectConfig } from "ssh2";
import type { Logger } from "./executor.js";

/** How to treat host keys (`StrictHostKeyChecking`). */
export type HostKeyChecking = "strict" | "accept-new" | "insecure";

export interface RetryOptions {
  /** Connection attempts in all (first try included). Default 3. */
  attempts?: number | undefined;
  /** Delay before the second attempt; doubles each time. Default 250 ms. */
  initialDelayMs?: number | undefined;
  maxDelayMs?: number | undefined;
}

export interface SshExecutorOptions {
  /** The known_hosts file to check against (and append to under `accept-new`). Default `~/.ssh/known_hosts`. */
  knownHostsFile?: string | undefined;
  /** Default `strict`: unknown and changed keys are refused. `insecure` accepts anything and warns. */
  hostKeyChecking?: HostKeyChecking | undefined;
  /** Write `|1|salt|hash` entries when recording keys under `accept-new`. Default false. */
  hashKnownHosts?: boolean | undefined;
  /** TCP connect + SSH handshake + authentication must finish within this. Default 15 s. */
  connectTimeoutMs?: number | undefined;
  /** Retries apply to establishing connections only: a command is never re-run. */
  retry?: RetryOptions | undefined;
  /** SSH keepalive interval, default 15 s; the connection is declared lost after `keepaliveCountMax` (4) misses. */
  keepaliveIntervalMs?: number | undefined;
  keepaliveCountMax?: number | undefined;
  /** Simultaneous exec channels per host (OpenSSH's MaxSessions is 10; SFTP uses one more). Default 8. */
  maxChannelsPerHost?: number | undefined;
  /** Receives debug/info/warn entries (never secrets). */
  logger?: Logger | undefined;
  /** For tests: how to wait between connection attempts. */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** ssh2 algorithm lists (cipher, kex, hmac, serverHostKey...), for servers that need something else. */
  algorithms?: ConnectConfig["algorithms"] | undefined;
  /** ssh2's protocol trace (packet types, no payloads), for `--verbose` debugging. */
  protocolDebug?: ((message: string) => void) | undefined;
  /**
   * Under `accept-new`, write a new host key to the known_hosts file. Default true; false (a dry
   * run) accepts it for this executor's connections only and reports it as `not-recorded`.
   */
  recordNewHostKeys?: boolean | undefined;
  /**
   * Told about every host key that was not checked against known_hosts: accepted unverified
   * (`insecure`), recorded (`accept-new`), or accepted without recording (`recordNewHostKeys: false`).
   * Once per host and executor. For the terminal: these are what a user must be able to see.
   */
  onHostKey?: ((event: HostKeyEvent) => void) | undefined;
  /**
   * fsync each uploaded file before the rename, so it survives a power cut. Default false: the
   * rename already makes uploads all-or-nothing for every reader, ext4 flushes a file renamed over
   * an existing one, and a re-run re-uploads whatever differs (uploads compare sha256 first).
   */
  fsync?: boolean | undefined;
}

/** A host key that was accepted without being found in known_hosts (see `onHostKey`). */
export interface HostKeyEvent {
  kind: "not-verified" | "recorded" | "not-recorded";
  /** The host's name (`HostTarget.name`). */
  host: string;
  /** The name known_hosts uses: `host` or `[host]:port`. */
  knownHostsName: string;
  /** `ED25519`, `RSA`, `ECDSA`. */
  keyType: string;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** The known_hosts file (written to for `recorded`). */
  file: string;
  /** `recorded`: the line it was written to. */
  line?: number | undefined;
}
