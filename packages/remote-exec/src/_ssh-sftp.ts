import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import type { SFTPWrapper } from "ssh2";
import { contentBuffer, sha256Hex } from "./_common.js";
import { type Connection, lostError } from "./_ssh-connection.js";
import { RemoteExecError } from "./errors.js";
import type { UploadSpec } from "./executor.js";

const SFTP_CHUNK = 256 * 1024;
const SFTP_IN_FLIGHT = 32;

/** The connection's SFTP session, started on first use. */
export function sftpSession(conn: Connection): Promise<SFTPWrapper> {
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

/** The login user's home directory on the host (where sudo uploads are staged). */
export function remoteHome(conn: Connection, sftp: SFTPWrapper): Promise<string> {
  conn.home ??= new Promise<string>((resolve, reject) =>
    sftp.realpath(".", (err, path) => (err ? reject(wrapSftpError(conn, ".", err)) : resolve(path))),
  );
  return conn.home;
}

/** Writes the whole source to `path` (created exclusively, mode 0600), pipelined. */
export async function sftpWrite(
  conn: Connection,
  sftp: SFTPWrapper,
  path: string,
  source: Source,
  fsync: boolean,
): Promise<void> {
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
    if (fsync) {
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

function wrapSftpError(conn: Connection, path: string, err: Error & { code?: unknown }): RemoteExecError {
  if (conn.closed) return lostError(conn, `writing ${path}`, "during an upload");
  const denied = err.code === 3;
  return new RemoteExecError("UPLOAD_FAILED", `SFTP ${path}: ${err.message}`, {
    host: conn.name,
    hint: denied ? "permission denied for the login user: pass `sudo: true` to write as root" : undefined,
  });
}

export interface Source {
  size: number;
  /**
   * The bytes at [pos, pos+len). The returned buffer may be reused by the next read: SFTP writes
   * copy it synchronously into their packets, so a file upload needs one block of memory.
   */
  read(pos: number, len: number): Promise<Buffer>;
  sha256(): Promise<string>;
  close(): Promise<void>;
}

export async function openSource(name: string, spec: UploadSpec): Promise<Source> {
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
