import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, open, readFile } from "node:fs/promises";
import { Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import {
  Client,
  type ClientChannel,
  type ConnectConfig,
  type ServerHostKeyAlgorithm,
  type SFTPWrapper,
} from "ssh2";
import {
  checkResult,
  contentBuffer,
  formatMode,
  sha256Hex,
  stderrTail,
  validateUploadSpec,
} from "./_common.js";
import { KnownHostsStore } from "./_known-hosts-store.js";
import {
  chownSpec,
  DOWNLOAD_NOT_FOUND_CODE,
  DOWNLOAD_SCRIPT,
  FINALIZE_SCRIPT,
  METADATA_SCRIPT,
  PRECHECK_SCRIPT,
  parsePrecheck,
} from "./_remote-scripts.js";
import { Semaphore } from "./_semaphore.js";
import { isRetryableConnectError, RemoteExecError } from "./errors.js";
import type {
  DownloadOptions,
  ExecOptions,
  ExecResult,
  Executor,
  Logger,
  ShellOptions,
  UploadResult,
  UploadSpec,
} from "./executor.js";
import { DEFAULT_SSH_PORT, type HostTarget, hostAddress, type JumpTarget, needsSudo } from "./host-target.js";
import {
  checkHostKey,
  fingerprintSha256,
  keyTypeLabel,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
} from "./known-hosts.js";
import type { MaybeSecret } from "./secret.js";
import { buildCommand } from "./shell-quote.js";

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

interface Connection {
  key: string;
  name: string;
  target: Omit<HostTarget, "name">;
  client: Client;
  channels: Semaphore;
  sftp: Promise<SFTPWrapper> | undefined;
  home: Promise<string> | undefined;
  closed: boolean;
  /** Why the connection ended, when it ended on its own. */
  lostReason: string | undefined;
}

interface RawResult {
  code: number | null;
  signal: string | undefined;
  stdout: Buffer;
  stderr: Buffer;
}

interface RunOptions extends ExecOptions {
  /** Collect stdout as a Buffer even if huge (download). */
  raw?: boolean;
}

const SFTP_CHUNK = 256 * 1024;
const SFTP_IN_FLIGHT = 32;
/** After a command's deadline, how long the host's own `timeout` gets before we give up on the channel. */
const KILL_GRACE_MS = 2000;
const CHANNEL_OPEN_ATTEMPTS = 5;
/** Sources up to this size are hashed in parallel with the host's check (see upload). */
const EAGER_HASH_BYTES = 8 * 1024 * 1024;

class ChannelOpenError extends Error {}

/** Errors already retried at a lower level (a jump host's connection). */
const noRetry = new WeakSet<Error>();

const HOST_KEY_ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};
const DEFAULT_HOST_KEY_ORDER = Object.values(HOST_KEY_ALGORITHMS).flat();

/**
 * The real executor: one SSH connection per host (opened on first use, reused for every operation,
 * kept alive), exec channels bounded per host, SFTP for uploads.
 */
export class SshExecutor implements Executor {
  readonly #opts: SshExecutorOptions;
  readonly #checking: HostKeyChecking;
  readonly #knownHosts: KnownHostsStore;
  readonly #pool = new Map<string, Promise<Connection>>();
  readonly #live = new Set<Connection>();
  /** `kind knownHostsName` of the host-key events already reported. */
  readonly #told = new Set<string>();
  #closed = false;

  constructor(options: SshExecutorOptions = {}) {
    this.#opts = options;
    this.#checking = options.hostKeyChecking ?? "strict";
    this.#knownHosts = new KnownHostsStore(
      expandHome(options.knownHostsFile ?? "~/.ssh/known_hosts"),
      options.hashKnownHosts ?? false,
    );
  }

  get knownHostsFile(): string {
    return this.#knownHosts.file;
  }

  async connect(host: HostTarget): Promise<void> {
    await this.#connection(host.name, host);
  }

  async exec(host: HostTarget, argv: readonly MaybeSecret[], options: ExecOptions = {}): Promise<ExecResult> {
    const built = buildCommand(
      {
        argv,
        sudo: !!options.sudo && needsSudo(host),
        env: options.env,
        timeoutMs: options.timeoutMs,
        exec: true,
      },
      host.name,
    );
    return this.#execBuilt(host, built.command, built.display, options);
  }

  async shell(host: HostTarget, script: MaybeSecret, options: ShellOptions = {}): Promise<ExecResult> {
    const built = buildCommand(
      {
        argv: ["sh", "-c", script, "khw", ...(options.args ?? [])],
        sudo: !!options.sudo && needsSudo(host),
        env: options.env,
        timeoutMs: options.timeoutMs,
        exec: true,
      },
      host.name,
    );
    return this.#execBuilt(host, built.command, built.display, options);
  }

  async #execBuilt(
    host: HostTarget,
    command: string,
    display: string,
    options: ExecOptions,
  ): Promise<ExecResult> {
    const raw = await this.#run(host, command, display, options);
    const result: ExecResult = {
      code: raw.code,
      stdout: raw.stdout.toString("utf8"),
      stderr: raw.stderr.toString("utf8"),
    };
    if (raw.signal !== undefined) result.signal = raw.signal;
    if (options.check ?? true) checkResult(host.name, display, result, !!options.secret);
    return result;
  }

  async upload(host: HostTarget, spec: UploadSpec): Promise<UploadResult> {
    validateUploadSpec(host.name, spec);
    const sudo = !!spec.sudo && needsSudo(host);
    const mode = spec.mode ?? 0o644;
    const owner = chownSpec(spec.owner, spec.group);
    const source = await openSource(host.name, spec);
    try {
      const script = async (text: string, args: string[], what: string): Promise<ExecResult> => {
        const built = buildCommand({ argv: ["sh", "-c", text, "khw", ...args], sudo, exec: true }, host.name);
        const result = await this.#execBuilt(host, built.command, `${what} ${spec.path}`, { check: false });
        if (result.code !== 0) {
          const sudoHint = /sudo: a (password|terminal) is required/.test(result.stderr)
            ? "the login user needs passwordless sudo (NOPASSWD), or log in as root"
            : sudo || host.user === "root"
              ? undefined
              : "the login user may lack permission: pass `sudo: true` to write as root";
          throw new RemoteExecError(
            "UPLOAD_FAILED",
            `upload ${spec.path}: ${what} failed (exit ${result.code ?? result.signal}): ${stderrTail(result.stderr)}`,
            { host: host.name, hint: sudoHint },
          );
        }
        return result;
      };

      // The local bytes are hashed only when the host has a file of the same size. Small sources
      // are hashed while the host answers (a re-run that finds everything unchanged waits for one
      // hash, not two); big ones only when needed, so a changed binary costs no hashing at all.
      if (source.size <= EAGER_HASH_BYTES) source.sha256().catch(() => {});
      const pre = await script(
        PRECHECK_SCRIPT,
        [spec.path, String(source.size), spec.mkdirs === false ? "0" : "1"],
        "checking the current file",
      );
      const state = parsePrecheck(pre.stdout);
      if (state?.sha256 !== undefined && state.size === source.size) {
        const sha = await source.sha256();
        if (state.sha256 === sha) {
          const metaSame =
            (state.mode & 0o7777) === mode &&
            (spec.owner === undefined || spec.owner === state.owner) &&
            (spec.group === undefined || spec.group === state.group);
          if (!metaSame) {
            await script(METADATA_SCRIPT, [spec.path, formatMode(mode), owner], "setting mode/owner of");
          }
          this.#log(
            "debug",
            host.name,
            `upload ${spec.path}: ${metaSame ? "unchanged" : "mode/owner updated"}`,
          );
          return { path: spec.path, changed: !metaSame, size: source.size };
        }
      }

      const conn = await this.#connection(host.name, host);
      const sftp = await this.#sftp(conn);
      const tag = randomBytes(6).toString("hex");
      const dir = spec.path.slice(0, spec.path.lastIndexOf("/")) || "";
      const base = spec.path.slice(spec.path.lastIndexOf("/") + 1);
      let written: string;
      if (sudo) {
        written = `${await this.#home(conn, sftp)}/.khw-upload-${tag}`;
      } else {
        written = `${dir}/.${base}.khw-${tag}`;
      }
      try {
        await this.#sftpWrite(conn, sftp, written, source);
      } catch (err) {
        // Best effort: the temp name never is the destination, so nothing partial is visible there.
        if (!conn.closed) sftp.unlink(written, () => {});
        throw err;
      }
      await script(
        FINALIZE_SCRIPT,
        sudo
          ? ["", spec.path, formatMode(mode), owner, written]
          : [written, spec.path, formatMode(mode), owner, ""],
        "installing",
      );
      this.#log(
        "debug",
        host.name,
        `upload ${spec.path}: written (${source.size} bytes, mode ${formatMode(mode)})`,
      );
      return { path: spec.path, changed: true, size: source.size };
    } finally {
      await source.close();
    }
  }

  async download(host: HostTarget, path: string, options: DownloadOptions = {}): Promise<Buffer> {
    const built = buildCommand(
      {
        argv: ["sh", "-c", DOWNLOAD_SCRIPT, "khw", path],
        sudo: !!options.sudo && needsSudo(host),
        exec: true,
      },
      host.name,
    );
    const raw = await this.#run(host, built.command, `download ${path}`, { raw: true });
    if (raw.code === DOWNLOAD_NOT_FOUND_CODE) {
      throw new RemoteExecError("FILE_NOT_FOUND", `download ${path}: no such file`, { host: host.name });
    }
    if (raw.code !== 0) {
      throw new RemoteExecError(
        "DOWNLOAD_FAILED",
        `download ${path} failed (exit ${raw.code ?? raw.signal}): ${stderrTail(raw.stderr.toString("utf8"))}`,
        { host: host.name, hint: options.sudo ? undefined : "pass `sudo: true` to read as root" },
      );
    }
    return raw.stdout;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const conns = await Promise.all([...this.#pool.values()].map((p) => p.catch(() => undefined)));
    this.#pool.clear();
    const all = new Set([...conns.filter((c): c is Connection => c !== undefined), ...this.#live]);
    // Targets before their jump hosts: a forwarded connection rides on its jump's connection.
    const ordered = [...all].sort(
      (a, b) => Number(b.key.includes(" via ")) - Number(a.key.includes(" via ")),
    );
    for (const conn of ordered) await endConnection(conn);
  }

  // ---------------------------------------------------------------------------------------------
  // connections

  #log(level: "debug" | "info" | "warn", host: string | undefined, message: string): void {
    this.#opts.logger?.({ level, host, message });
  }

  #connection(name: string, target: Omit<HostTarget, "name">): Promise<Connection> {
    if (this.#closed) {
      return Promise.reject(new RemoteExecError("CLOSED", "the executor is closed", { host: name }));
    }
    const key = connectionKey(target);
    let pending = this.#pool.get(key);
    if (!pending) {
      pending = this.#connectWithRetry(name, key, target);
      this.#pool.set(key, pending);
      pending.catch(() => {
        if (this.#pool.get(key) === pending) this.#pool.delete(key);
      });
    }
    return pending;
  }

  async #connectWithRetry(name: string, key: string, target: Omit<HostTarget, "name">): Promise<Connection> {
    const attempts = Math.max(1, this.#opts.retry?.attempts ?? 3);
    let delay = this.#opts.retry?.initialDelayMs ?? 250;
    const maxDelay = this.#opts.retry?.maxDelayMs ?? 4000;
    const sleep = this.#opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let attempt = 1; ; attempt++) {
      try {
        this.#log("debug", name, `connecting to ${hostAddress(target)} (attempt ${attempt}/${attempts})`);
        const conn = await this.#connectOnce(name, key, target);
        this.#log("debug", name, `connected to ${hostAddress(target)}`);
        return conn;
      } catch (err) {
        if (
          !isRetryableConnectError(err) ||
          noRetry.has(err as Error) ||
          attempt >= attempts ||
          this.#closed
        ) {
          throw err;
        }
        const message = (err as Error).message.split("\n")[0];
        this.#log(
          "warn",
          name,
          `connection attempt ${attempt}/${attempts} failed (${message}); retrying in ${delay} ms`,
        );
        await sleep(delay);
        delay = Math.min(delay * 2, maxDelay);
      }
    }
  }

  async #connectOnce(name: string, key: string, target: Omit<HostTarget, "name">): Promise<Connection> {
    const port = target.port ?? DEFAULT_SSH_PORT;
    const address = hostAddress(target);
    const timeoutMs = this.#opts.connectTimeoutMs ?? 15_000;
    const auth = await loadAuth(name, target);
    const knownName = knownHostsName(target.host, port);
    let algorithms: ConnectConfig["algorithms"] = this.#opts.algorithms;
    if (this.#checking !== "insecure" && !algorithms?.serverHostKey) {
      const known = knownKeyTypes(await this.#knownHosts.entries(), knownName);
      if (known.length > 0) {
        // Like OpenSSH: ask for the key types we already know first, so a host with several
        // keys does not look "unknown" just because it offered another type.
        const first = known.flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? []);
        algorithms = {
          ...algorithms,
          serverHostKey: [...first, ...DEFAULT_HOST_KEY_ORDER.filter((a) => !first.includes(a))],
        };
      }
    }

    let sock: Duplex;
    if (target.jump) {
      const jump = target.jump;
      const jumpName = jump.name ?? `jump:${jump.host}`;
      const jumpConn = await this.#connection(jumpName, jump).catch((err: unknown) => {
        // Name the host the caller asked for; the jump connection already had its own retries.
        if (!(err instanceof RemoteExecError)) throw err;
        const wrapped = new RemoteExecError(err.code, `via jump host ${jumpName}: ${err.detail}`, {
          host: name,
          hint: err.hint,
          fingerprint: err.fingerprint,
          cause: err,
        });
        noRetry.add(wrapped);
        throw wrapped;
      });
      sock = await forwardOut(name, jumpConn, target.host, port);
    } else {
      sock = await tcpConnect(name, target.host, port, timeoutMs);
    }

    return await new Promise<Connection>((resolve, reject) => {
      const client = new Client();
      let hostKeyError: RemoteExecError | undefined;
      let settled = false;
      let ready = false;
      const conn: Connection = {
        key,
        name,
        target,
        client,
        channels: new Semaphore(this.#opts.maxChannelsPerHost ?? 8),
        sftp: undefined,
        home: undefined,
        closed: false,
        lostReason: undefined,
      };
      const fail = (err: RemoteExecError): void => {
        if (settled) return;
        settled = true;
        client.destroy();
        sock.destroy();
        reject(err);
      };
      client.on("ready", () => {
        if (settled) return;
        settled = true;
        ready = true;
        this.#live.add(conn);
        resolve(conn);
      });
      client.on("error", (err: Error & { level?: string }) => {
        if (!settled) {
          fail(hostKeyError ?? mapConnectError(name, address, err, timeoutMs, auth.description, target.user));
        } else {
          conn.lostReason ??= err.message;
        }
      });
      const onGone = (): void => {
        if (!settled) {
          fail(
            hostKeyError ??
              new RemoteExecError(
                "CONNECT_FAILED",
                `${address}: the connection closed during the SSH handshake`,
                {
                  host: name,
                  hint: "is this an SSH server, and does it accept connections from here (MaxStartups, firewall)?",
                },
              ),
          );
          return;
        }
        // A connection that failed before it was ready was never pooled: its pool entry is the
        // retry loop still running (or already rejected), which must not be touched from here.
        if (ready && !conn.closed) {
          conn.closed = true;
          this.#live.delete(conn);
          this.#pool.get(key)?.then(
            (c) => {
              if (c === conn && this.#pool.get(key)) this.#pool.delete(key);
            },
            () => {},
          );
          if (!this.#closed)
            this.#log("warn", name, `connection to ${address} lost (${conn.lostReason ?? "closed"})`);
        }
      };
      client.on("end", onGone);
      client.on("close", onGone);

      const config: ConnectConfig = {
        sock,
        username: target.user,
        ...(this.#opts.protocolDebug ? { debug: this.#opts.protocolDebug } : {}),
        readyTimeout: timeoutMs,
        keepaliveInterval: this.#opts.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: this.#opts.keepaliveCountMax ?? 4,
        hostVerifier: (hostKey: Buffer, verify: (valid: boolean) => void) => {
          this.#verifyHostKey(name, target.host, port, knownName, hostKey).then(
            () => verify(true),
            (err: unknown) => {
              hostKeyError =
                err instanceof RemoteExecError
                  ? err
                  : new RemoteExecError(
                      "CONNECT_FAILED",
                      `host-key check failed: ${(err as Error).message}`,
                      {
                        host: name,
                      },
                    );
              verify(false);
            },
          );
        },
        ...(algorithms ? { algorithms } : {}),
        ...(auth.privateKey !== undefined ? { privateKey: auth.privateKey } : {}),
        ...(auth.passphrase !== undefined ? { passphrase: auth.passphrase } : {}),
        ...(auth.agent !== undefined ? { agent: auth.agent } : {}),
      };
      try {
        client.connect(config);
      } catch (err) {
        // ssh2 parses the private key synchronously. Its message names the problem, not the key.
        fail(
          new RemoteExecError(
            "INVALID_ARGUMENT",
            `the private key (${auth.description}) cannot be used: ${(err as Error).message}`,
            {
              host: name,
              hint: "use an unencrypted OpenSSH/PEM private key, or pass its passphrase",
            },
          ),
        );
      }
    });
  }

  async #verifyHostKey(
    name: string,
    host: string,
    port: number,
    knownName: string,
    key: Buffer,
  ): Promise<void> {
    const fingerprint = fingerprintSha256(key);
    const type = keyTypeOf(key);
    const label = `${keyTypeLabel(type)} ${fingerprint}`;
    const file = this.#knownHosts.file;
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
    const verdict = checkHostKey(await this.#knownHosts.entries(), knownName, key);
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
            await this.#knownHosts.remember(knownName, key);
            this.#log("info", name, `new host key for ${knownName} accepted, NOT recorded: ${label}`);
            tell("not-recorded");
            return;
          }
          const line = await this.#knownHosts.add(knownName, key);
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

  // ---------------------------------------------------------------------------------------------
  // commands

  async #run(host: HostTarget, command: string, display: string, options: RunOptions): Promise<RawResult> {
    const shown = options.secret ? "a command (hidden: secret)" : display;
    const conn = await this.#connection(host.name, host);
    const release = await conn.channels.acquire();
    try {
      if (conn.closed) throw lostError(conn, shown, "before it started");
      this.#log("debug", host.name, `$ ${shown}`);
      // A session that the server refuses to open (MaxSessions reached while it still frees closed
      // ones) never started anything: opening it again is safe.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#open(host.name, conn, command, shown, options);
        } catch (err) {
          if (!(err instanceof ChannelOpenError) || attempt >= CHANNEL_OPEN_ATTEMPTS || conn.closed) {
            if (err instanceof ChannelOpenError) {
              throw conn.closed
                ? lostError(conn, shown, "before it started")
                : new RemoteExecError(
                    "CONNECT_FAILED",
                    `could not open a session for ${shown}: ${err.message}`,
                    {
                      host: host.name,
                      hint: "the server refused another session channel (sshd MaxSessions?)",
                    },
                  );
            }
            throw err;
          }
          await new Promise((r) => setTimeout(r, 20 * attempt));
        }
      }
    } finally {
      release();
    }
  }

  #open(
    name: string,
    conn: Connection,
    command: string,
    shown: string,
    options: RunOptions,
  ): Promise<RawResult> {
    // collect() attaches its listeners inside the exec callback, synchronously: a fast command's
    // exit-status can arrive in the same TCP read as the channel confirmation.
    return new Promise<RawResult>((resolve, reject) => {
      // Taken before the request leaves: the host's `timeout` starts later than this.
      const started = performance.now();
      try {
        conn.client.exec(command, (err, channel) => {
          if (err) reject(new ChannelOpenError(err.message));
          else collect(name, conn, channel, shown, options, started).then(resolve, reject);
        });
      } catch (err) {
        reject(new ChannelOpenError((err as Error).message));
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // SFTP

  #sftp(conn: Connection): Promise<SFTPWrapper> {
    if (!conn.sftp) {
      conn.sftp = new Promise<SFTPWrapper>((resolve, reject) => {
        conn.client.sftp((err, sftp) => {
          if (err) {
            conn.sftp = undefined;
            reject(
              conn.closed
                ? lostError(conn, "SFTP", "while opening")
                : new RemoteExecError("UPLOAD_FAILED", `cannot start SFTP: ${err.message}`, {
                    host: conn.name,
                    hint: "the server needs the sftp subsystem (Subsystem sftp ... in sshd_config)",
                  }),
            );
          } else {
            sftp.on("close", () => {
              conn.sftp = undefined;
            });
            resolve(sftp);
          }
        });
      });
    }
    return conn.sftp;
  }

  #home(conn: Connection, sftp: SFTPWrapper): Promise<string> {
    conn.home ??= new Promise<string>((resolve, reject) =>
      sftp.realpath(".", (err, path) => (err ? reject(wrapSftpError(conn, ".", err)) : resolve(path))),
    );
    return conn.home;
  }

  /** Writes the whole source to `path` (created exclusively, mode 0600), pipelined. */
  async #sftpWrite(conn: Connection, sftp: SFTPWrapper, path: string, source: Source): Promise<void> {
    const handle = await new Promise<Buffer>((resolve, reject) =>
      sftp.open(path, "wx", { mode: 0o600 }, (err, h) =>
        err ? reject(wrapSftpError(conn, path, err)) : resolve(h),
      ),
    );
    let closed = false;
    try {
      const maxWrite = (sftp as unknown as { _maxWriteLen?: number })._maxWriteLen ?? 32 * 1024;
      const chunk = Math.max(1024, Math.min(SFTP_CHUNK, maxWrite));
      const inFlight: Promise<void>[] = [];
      // Read big blocks (few awaits), send them as pipelined SFTP writes.
      const block = chunk * 16;
      for (let pos = 0; pos < source.size; ) {
        const blockLen = Math.min(block, source.size - pos);
        const buf = await source.read(pos, blockLen);
        for (let off = 0; off < blockLen; off += chunk) {
          const len = Math.min(chunk, blockLen - off);
          const at = pos + off;
          const p = new Promise<void>((resolve, reject) =>
            sftp.write(handle, buf, off, len, at, (err) =>
              err ? reject(wrapSftpError(conn, path, err)) : resolve(),
            ),
          );
          p.catch(() => {});
          inFlight.push(p);
          if (inFlight.length >= SFTP_IN_FLIGHT) await inFlight.shift();
        }
        pos += blockLen;
      }
      await Promise.all(inFlight);
      if (this.#opts.fsync ?? false) {
        await new Promise<void>((resolve) => {
          try {
            sftp.ext_openssh_fsync(handle, () => resolve());
          } catch {
            resolve(); // server without fsync@openssh.com: the rename is still atomic
          }
        });
      }
      closed = true;
      await new Promise<void>((resolve, reject) =>
        sftp.close(handle, (err) => (err ? reject(wrapSftpError(conn, path, err)) : resolve())),
      );
    } finally {
      if (!closed && !conn.closed) sftp.close(handle, () => {});
    }
  }
}

// -----------------------------------------------------------------------------------------------
// helpers

function connectionKey(target: Omit<HostTarget, "name">): string {
  const base = `${target.user}@${target.host}:${target.port ?? DEFAULT_SSH_PORT}`;
  return target.jump ? `${base} via ${connectionKey(target.jump)}` : base;
}

interface Auth {
  privateKey: string | Buffer | undefined;
  passphrase: string | undefined;
  agent: string | undefined;
  /** Names the credentials without revealing them: `key ~/.ssh/id_ed25519, agent`. */
  description: string;
}

async function loadAuth(name: string, target: Omit<HostTarget, "name"> | JumpTarget): Promise<Auth> {
  let privateKey = target.privateKey;
  const parts: string[] = [];
  if (privateKey !== undefined) {
    parts.push("an inline private key");
  } else if (target.identityFile !== undefined) {
    try {
      privateKey = await readFile(expandHome(target.identityFile));
    } catch (err) {
      throw new RemoteExecError(
        "INVALID_ARGUMENT",
        `cannot read identity file ${target.identityFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
        { host: name, hint: "point identityFile at an existing private key readable by this user" },
      );
    }
    parts.push(`key ${target.identityFile}`);
  }
  if (target.agent !== undefined) parts.push(`agent ${target.agent}`);
  if (parts.length === 0) {
    throw new RemoteExecError("INVALID_ARGUMENT", "no credentials: set identityFile, privateKey or agent", {
      host: name,
      hint: "e.g. identityFile: ~/.ssh/id_ed25519, or agent: process.env.SSH_AUTH_SOCK",
    });
  }
  return { privateKey, passphrase: target.passphrase, agent: target.agent, description: parts.join(", ") };
}

/**
 * ssh2 writes every SSH packet with its own `socket.write` (one syscall each). Corking the socket
 * for the rest of the current tick turns a burst of packets (an SFTP window's worth) into one
 * writev, without delaying anything past the tick.
 */
function coalesceWrites(sock: Socket): void {
  const write = sock.write.bind(sock) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    sock.uncork();
  };
  (sock as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]): boolean => {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  };
}

/** `~/x` → `$HOME/x`, as ssh does for IdentityFile. */
function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

function tcpConnect(name: string, host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const sock = new Socket();
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new RemoteExecError("TIMEOUT", `TCP connect to ${host}:${port} timed out after ${timeoutMs} ms`, {
          host: name,
          hint: "is the host up and reachable from here (address, routing, firewall)?",
        }),
      );
    }, timeoutMs);
    sock.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      reject(
        new RemoteExecError(
          "CONNECT_FAILED",
          `cannot connect to ${host}:${port}: ${err.code ?? err.message}`,
          {
            host: name,
            hint:
              err.code === "ECONNREFUSED"
                ? `nothing listens on port ${port}: is sshd running, and is the port right?`
                : "is the host up and reachable from here (address, routing, firewall)?",
            cause: err,
          },
        ),
      );
    });
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      // ssh2 never disables Nagle: without this every exec round trip waits 40+ ms on delayed ACKs.
      sock.setNoDelay(true);
      coalesceWrites(sock);
      resolve(sock);
    });
    sock.connect({ host, port });
  });
}

function forwardOut(name: string, jump: Connection, host: string, port: number): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    const fail = (message: string): void =>
      reject(
        new RemoteExecError(
          "CONNECT_FAILED",
          `jump host ${jump.name} could not reach ${host}:${port}: ${message}`,
          {
            host: name,
            hint: "is the host up and reachable from the jump host?",
          },
        ),
      );
    try {
      jump.client.forwardOut("127.0.0.1", 0, host, port, (err, stream) =>
        err ? fail(err.message) : resolve(stream),
      );
    } catch (err) {
      fail((err as Error).message);
    }
  });
}

function mapConnectError(
  name: string,
  address: string,
  err: Error & { level?: string; code?: string },
  timeoutMs: number,
  authDescription: string,
  user: string,
): RemoteExecError {
  switch (err.level) {
    case "client-authentication":
      return new RemoteExecError(
        "AUTH_FAILED",
        `${address}: authentication failed for user ${user} (tried ${authDescription})`,
        {
          host: name,
          hint: `check the user name and that the matching public key is in ~${user}/.ssh/authorized_keys on the host`,
        },
      );
    case "client-timeout":
      return new RemoteExecError("TIMEOUT", `${address}: no SSH handshake within ${timeoutMs} ms`, {
        host: name,
        hint: "is the host overloaded, or is something other than sshd listening?",
      });
    default:
      if (/lost before handshake/i.test(err.message)) {
        return new RemoteExecError(
          "CONNECT_FAILED",
          `${address}: the connection was closed before the SSH handshake (no SSH banner)`,
          {
            host: name,
            hint: "something accepted the TCP connection and closed it: sshd refusing early (MaxStartups, host shutting down), a firewall or a proxy in the way",
          },
        );
      }
      return new RemoteExecError(
        "CONNECT_FAILED",
        `${address}: ${err.code ?? ""}${err.code ? " " : ""}${err.message}`,
        {
          host: name,
          hint: "check that sshd runs on the host and that this address and port reach it",
        },
      );
  }
}

function lostError(conn: Connection, what: string, when: string): RemoteExecError {
  return new RemoteExecError(
    "CONNECTION_LOST",
    `connection to ${hostAddress(conn.target)} lost ${when}: ${what}${conn.lostReason ? ` (${conn.lostReason})` : ""}`,
    {
      host: conn.name,
      hint: "the operation was not retried: check the host, then run again (khw converges)",
    },
  );
}

function wrapSftpError(conn: Connection, path: string, err: Error & { code?: unknown }): RemoteExecError {
  if (conn.closed) return lostError(conn, `writing ${path}`, "during an upload");
  const denied = err.code === 3;
  return new RemoteExecError("UPLOAD_FAILED", `SFTP ${path}: ${err.message}`, {
    host: conn.name,
    hint: denied ? "permission denied for the login user: pass `sudo: true` to write as root" : undefined,
  });
}

function collect(
  name: string,
  conn: Connection,
  channel: ClientChannel,
  shown: string,
  options: RunOptions,
  started: number,
): Promise<RawResult> {
  return new Promise<RawResult>((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const outDecoder = options.onStdout ? new StringDecoder("utf8") : undefined;
    const errDecoder = options.onStderr ? new StringDecoder("utf8") : undefined;
    let code: number | null = null;
    let signal: string | undefined;
    let exited = false;
    let deadlinePassed = false;
    let settled = false;
    let backstop: NodeJS.Timeout | undefined;
    const timeoutError = (out: Buffer, err: Buffer): RemoteExecError => {
      const partial = {
        code,
        signal: signal ?? "SIGKILL",
        stdout: out.toString("utf8"),
        stderr: err.toString("utf8"),
      };
      return new RemoteExecError(
        "TIMEOUT",
        `timed out after ${options.timeoutMs} ms and was killed: ${shown}`,
        {
          host: name,
          hint: "raise timeoutMs if the command legitimately takes longer",
          result: options.secret ? { ...partial, stdout: "", stderr: "" } : partial,
        },
      );
    };
    // The host kills the command's process group at the deadline (`timeout -s KILL`, see
    // buildCommand); this timer only notices, and gives up on the channel if the host does not answer.
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            deadlinePassed = true;
            backstop = setTimeout(() => {
              if (settled) return;
              settled = true;
              reject(timeoutError(Buffer.concat(stdout), Buffer.concat(stderr)));
              try {
                channel.signal("KILL");
                channel.close();
              } catch {}
            }, KILL_GRACE_MS);
          }, options.timeoutMs)
        : undefined;
    channel.on("data", (d: Buffer) => {
      stdout.push(d);
      if (outDecoder) emit(options.onStdout, outDecoder.write(d));
    });
    channel.stderr.on("data", (d: Buffer) => {
      stderr.push(d);
      if (errDecoder) emit(options.onStderr, errDecoder.write(d));
    });
    channel.on("exit", (c: number | null, sig?: string) => {
      exited = true;
      if (typeof c === "number") code = c;
      else signal = sig ?? "UNKNOWN";
    });
    channel.on("close", (closeCode?: number | null) => {
      clearTimeout(timer);
      clearTimeout(backstop);
      if (outDecoder) emit(options.onStdout, outDecoder.end());
      if (errDecoder) emit(options.onStderr, errDecoder.end());
      if (settled) return;
      settled = true;
      const out = Buffer.concat(stdout);
      const err = Buffer.concat(stderr);
      if (!exited && typeof closeCode === "number") {
        exited = true;
        code = closeCode;
      }
      // The host's `timeout -s KILL` started after our clock did, so its kill (exit 137) always
      // lands at or after our deadline — even when this close is handled before our timer fires.
      const pastDeadline =
        deadlinePassed ||
        (options.timeoutMs !== undefined && performance.now() - started >= options.timeoutMs);
      if (pastDeadline && (code === 137 || code === null)) {
        reject(timeoutError(out, err));
        return;
      }
      if (!exited) {
        if (conn.closed) {
          reject(lostError(conn, shown, "while running (the command may or may not have completed)"));
          return;
        }
        signal = "UNKNOWN";
      }
      resolve({ code, signal, stdout: out, stderr: err });
    });
    const input = options.stdin;
    if (input !== undefined) channel.end(typeof input === "string" ? Buffer.from(input, "utf8") : input);
    else channel.end();
  });
}

function emit(cb: ((chunk: string) => void) | undefined, text: string): void {
  if (cb && text !== "") cb(text);
}

async function endConnection(conn: Connection): Promise<void> {
  if (conn.closed) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      conn.client.destroy();
      resolve();
    }, 2000);
    conn.client.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    conn.client.end();
  });
}

// -----------------------------------------------------------------------------------------------
// upload sources

interface Source {
  size: number;
  /**
   * The bytes at [pos, pos+len). The returned buffer may be reused by the next read: SFTP writes
   * copy it synchronously into their packets, so a file upload needs one block of memory.
   */
  read(pos: number, len: number): Promise<Buffer>;
  sha256(): Promise<string>;
  close(): Promise<void>;
}

async function openSource(name: string, spec: UploadSpec): Promise<Source> {
  if (spec.content !== undefined) {
    const buf = contentBuffer(spec.content);
    return {
      size: buf.length,
      read: async (pos, len) => buf.subarray(pos, pos + len),
      sha256: once(async () => sha256Hex(buf)),
      close: async () => {},
    };
  }
  const file = spec.localFile as string;
  let fh: FileHandle;
  let size: number;
  try {
    fh = await open(file, "r");
    size = (await fh.stat()).size;
  } catch (err) {
    throw new RemoteExecError(
      "INVALID_ARGUMENT",
      `upload ${spec.path}: cannot read local file ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
      { host: name },
    );
  }
  let block: Buffer | undefined;
  return {
    size,
    read: async (pos, len) => {
      if (!block || block.length < len) block = Buffer.allocUnsafe(len);
      const buf = block.subarray(0, len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
        if (bytesRead === 0) {
          throw new RemoteExecError(
            "INVALID_ARGUMENT",
            `upload ${spec.path}: local file ${file} shrank while reading`,
            {
              host: name,
            },
          );
        }
        got += bytesRead;
      }
      return buf;
    },
    sha256: once(async () => {
      const hash = createHash("sha256");
      const buf = Buffer.allocUnsafe(1024 * 1024);
      for (let pos = 0; pos < size; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
      return hash.digest("hex");
    }),
    close: () => fh.close(),
  };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}
