import { StringDecoder } from "node:string_decoder";
import type { ClientChannel } from "ssh2";
import { type Connection, lostError } from "./_ssh-connection.js";
import { RemoteExecError } from "./errors.js";
import type { ExecOptions } from "./executor.js";
import type { HostTarget } from "./host-target.js";

export interface RawResult {
  code: number | null;
  signal: string | undefined;
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunOptions extends ExecOptions {
  /** Collect stdout as a Buffer even if huge (download). */
  raw?: boolean;
}

/** After a command's deadline, how long the host's own `timeout` gets before we give up on the channel. */
const KILL_GRACE_MS = 2000;
const CHANNEL_OPEN_ATTEMPTS = 5;

class ChannelOpenError extends Error {}

/**
 * Runs one command on a connection: a session channel (re-opened when the server refuses to open it),
 * bounded per host, its output collected, its deadline enforced by the host's own `timeout`.
 */
export async function runOnConnection(
  conn: Connection,
  host: HostTarget,
  command: string,
  display: string,
  options: RunOptions,
  log: (level: "debug", host: string, message: string) => void,
): Promise<RawResult> {
  const shown = options.secret ? "a command (hidden: secret)" : display;
  const release = await conn.channels.acquire();
  try {
    if (conn.closed) throw lostError(conn, shown, "before it started");
    log("debug", host.name, `$ ${shown}`);
    // A session that the server refuses to open (MaxSessions reached while it still frees closed
    // ones) never started anything: opening it again is safe.
    for (let attempt = 1; ; attempt++) {
      try {
        return await openChannel(host.name, conn, command, shown, options);
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

function openChannel(
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
