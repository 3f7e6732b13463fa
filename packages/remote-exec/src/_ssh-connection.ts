import { readFile } from "node:fs/promises";
import { Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { Semaphore } from "./_semaphore.js";
import type { HostKeyVerifier } from "./_ssh-host-keys.js";
import type { SshExecutorOptions } from "./_ssh-options.js";
import { isRetryableConnectError, RemoteExecError } from "./errors.js";
import { DEFAULT_SSH_PORT, type HostTarget, hostAddress, type JumpTarget } from "./host-target.js";
import { knownHostsName } from "./known-hosts.js";

/** One SSH connection to a host (possibly through a jump host), shared by every operation on it. */
export interface Connection {
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

/** Errors already retried at a lower level (a jump host's connection). */
const noRetry = new WeakSet<Error>();

type Log = (level: "debug" | "info" | "warn", host: string | undefined, message: string) => void;

/**
 * The connections of one executor: one per user@host:port (opened on first use, retried while
 * establishing, kept alive, reused), jump hosts first, host keys checked by the verifier.
 */
export class ConnectionPool {
  readonly #opts: SshExecutorOptions;
  readonly #hostKeys: HostKeyVerifier;
  readonly #log: Log;
  readonly #pool = new Map<string, Promise<Connection>>();
  readonly #live = new Set<Connection>();
  #closed = false;

  constructor(options: SshExecutorOptions, hostKeys: HostKeyVerifier, log: Log) {
    this.#opts = options;
    this.#hostKeys = hostKeys;
    this.#log = log;
  }

  get(name: string, target: Omit<HostTarget, "name">): Promise<Connection> {
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
    const algorithms = await this.#hostKeys.algorithmsFor(knownName);

    let sock: Duplex;
    if (target.jump) {
      const jump = target.jump;
      const jumpName = jump.name ?? `jump:${jump.host}`;
      const jumpConn = await this.get(jumpName, jump).catch((err: unknown) => {
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
          this.#hostKeys.verify(name, target.host, port, knownName, hostKey).then(
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
}

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

export /** `~/x` → `$HOME/x`, as ssh does for IdentityFile. */
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

export function lostError(conn: Connection, what: string, when: string): RemoteExecError {
  return new RemoteExecError(
    "CONNECTION_LOST",
    `connection to ${hostAddress(conn.target)} lost ${when}: ${what}${conn.lostReason ? ` (${conn.lostReason})` : ""}`,
    {
      host: conn.name,
      hint: "the operation was not retried: check the host, then run again (khw converges)",
    },
  );
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
