import { randomBytes } from "node:crypto";
import { checkResult, formatMode, stderrTail, validateUploadSpec } from "./_common.js";
import {
  chownSpec,
  DOWNLOAD_NOT_FOUND_CODE,
  DOWNLOAD_SCRIPT,
  FINALIZE_SCRIPT,
  METADATA_SCRIPT,
  PRECHECK_SCRIPT,
  parsePrecheck,
} from "./_remote-scripts.js";
import { ConnectionPool, expandHome } from "./_ssh-connection.js";
import { type RawResult, type RunOptions, runOnConnection } from "./_ssh-exec.js";
import { HostKeyVerifier } from "./_ssh-host-keys.js";
import type { SshExecutorOptions } from "./_ssh-options.js";
import { openSource, remoteHome, sftpSession, sftpWrite } from "./_ssh-sftp.js";
import { RemoteExecError } from "./errors.js";
import type {
  DownloadOptions,
  ExecOptions,
  ExecResult,
  Executor,
  ShellOptions,
  UploadResult,
  UploadSpec,
} from "./executor.js";
import { type HostTarget, needsSudo } from "./host-target.js";
import type { MaybeSecret } from "./secret.js";
import { buildCommand } from "./shell-quote.js";

export type { HostKeyChecking, HostKeyEvent, RetryOptions, SshExecutorOptions } from "./_ssh-options.js";

/** Sources up to this size are hashed in parallel with the host's check (see upload). */
const EAGER_HASH_BYTES = 8 * 1024 * 1024;

/**
 * The real executor: one SSH connection per host (opened on first use, reused for every operation,
 * kept alive), exec channels bounded per host, SFTP for uploads.
 * The jobs live beside it: connections (`_ssh-connection`), host keys (`_ssh-host-keys`), commands
 * (`_ssh-exec`) and SFTP (`_ssh-sftp`).
 */
export class SshExecutor implements Executor {
  readonly #opts: SshExecutorOptions;
  readonly #hostKeys: HostKeyVerifier;
  readonly #connections: ConnectionPool;

  constructor(options: SshExecutorOptions = {}) {
    this.#opts = options;
    const log = this.#log.bind(this);
    this.#hostKeys = new HostKeyVerifier(
      options,
      expandHome(options.knownHostsFile ?? "~/.ssh/known_hosts"),
      log,
    );
    this.#connections = new ConnectionPool(options, this.#hostKeys, log);
  }

  get knownHostsFile(): string {
    return this.#hostKeys.file;
  }

  async connect(host: HostTarget): Promise<void> {
    await this.#connections.get(host.name, host);
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

      const conn = await this.#connections.get(host.name, host);
      const sftp = await sftpSession(conn);
      const tag = randomBytes(6).toString("hex");
      const dir = spec.path.slice(0, spec.path.lastIndexOf("/")) || "";
      const base = spec.path.slice(spec.path.lastIndexOf("/") + 1);
      let written: string;
      if (sudo) {
        written = `${await remoteHome(conn, sftp)}/.khw-upload-${tag}`;
      } else {
        written = `${dir}/.${base}.khw-${tag}`;
      }
      try {
        await sftpWrite(conn, sftp, written, source, this.#opts.fsync ?? false);
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
    await this.#connections.close();
  }

  #log(level: "debug" | "info" | "warn", host: string | undefined, message: string): void {
    this.#opts.logger?.({ level, host, message });
  }

  async #run(host: HostTarget, command: string, display: string, options: RunOptions): Promise<RawResult> {
    const conn = await this.#connections.get(host.name, host);
    return runOnConnection(conn, host, command, display, options, this.#log.bind(this));
  }
}
