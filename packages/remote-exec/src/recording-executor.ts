import { checkResult, contentBuffer, formatMode, sha256Hex, validateUploadSpec } from "./_common.js";
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
import { isSecret, type MaybeSecret, REDACTED } from "./secret.js";
import { buildCommand, shellJoin, shellQuote } from "./shell-quote.js";

/** One recorded operation. Secrets appear as `***`; upload contents are reduced to size + sha256. */
export type RecordedOp =
  | { kind: "connect"; host: string }
  | {
      kind: "exec";
      host: string;
      /** The command line as sent (secrets redacted), `sudo -n --` and `env` included. */
      command: string;
      argv: string[];
      sudo: boolean;
      env: Record<string, string>;
      stdinBytes: number | undefined;
      timeoutMs: number | undefined;
    }
  | {
      kind: "shell";
      host: string;
      command: string;
      script: string;
      args: string[];
      sudo: boolean;
      env: Record<string, string>;
      stdinBytes: number | undefined;
      timeoutMs: number | undefined;
    }
  | {
      kind: "upload";
      host: string;
      path: string;
      mode: number;
      owner: string | undefined;
      group: string | undefined;
      sudo: boolean;
      size: number;
      sha256: string;
      changed: boolean;
    }
  | { kind: "download"; host: string; path: string; sudo: boolean }
  | { kind: "close" };

export type CommandOp = Extract<RecordedOp, { kind: "exec" | "shell" }>;

/** What a matched command returns. Missing fields: code 0, empty output. */
export interface CannedResult {
  code?: number | null | undefined;
  signal?: string | undefined;
  stdout?: string | undefined;
  stderr?: string | undefined;
}

export interface ResponseRule {
  /** Only for this host name (all hosts when omitted). */
  host?: string | undefined;
  /**
   * A string matches a command line that equals it or starts with it followed by a space
   * (`"systemctl is-active"` matches `sudo -n -- systemctl is-active etcd`): it is compared with the
   * full line, with the program's own argv (without sudo/env) and, for `shell`, with the script.
   * A RegExp is tested against the same lines; a function gets the whole op.
   */
  command: string | RegExp | ((op: CommandOp) => boolean);
  result: CannedResult | ((op: CommandOp) => CannedResult);
}

/** A file the recording executor believes a host has. */
export interface RecordedFile {
  content: Buffer;
  mode: number;
  owner: string;
  group: string;
}

export interface RecordingExecutorOptions {
  /**
   * Canned results, checked in order; the first match wins. A command no rule matches fails with
   * NOT_SCRIPTED (whatever `check` says), naming the command: nothing answers "ok" unless a test said so.
   */
  rules?: readonly ResponseRule[] | undefined;
  /** Files the hosts already have, by host name then path (a string/bytes means mode 0644, root:root). */
  files?: Readonly<Record<string, Readonly<Record<string, string | Uint8Array | RecordedFile>>>> | undefined;
  /**
   * How uploads decide `changed`: `track` (default) compares with `files` and remembers what was
   * uploaded (a second identical upload is unchanged); `changed` / `unchanged` force the answer.
   */
  uploads?: "track" | "changed" | "unchanged" | undefined;
  /** Host names that cannot be reached: every operation on them fails with CONNECT_FAILED. */
  unreachable?: readonly string[] | undefined;
}

/**
 * Performs nothing and records everything, with the same interface as `SshExecutor`: `khw up
 * --dry-run` prints `describe()`, tests assert on `ops`. Commands answer only what was scripted
 * (`rules`, `respond`); anything else fails with NOT_SCRIPTED. Uploads and downloads work on the
 * files it tracks.
 */
export class RecordingExecutor implements Executor {
  readonly ops: RecordedOp[] = [];
  readonly #rules: ResponseRule[];
  readonly #files = new Map<string, Map<string, RecordedFile>>();
  readonly #uploads: "track" | "changed" | "unchanged";
  readonly #unreachable: Set<string>;
  #closed = false;

  constructor(options: RecordingExecutorOptions = {}) {
    this.#rules = [...(options.rules ?? [])];
    this.#uploads = options.uploads ?? "track";
    this.#unreachable = new Set(options.unreachable ?? []);
    for (const [host, files] of Object.entries(options.files ?? {})) {
      for (const [path, f] of Object.entries(files)) this.setFile(host, path, f);
    }
  }

  /** Adds a canned result (after the existing rules). Returns `this` for chaining. */
  respond(command: ResponseRule["command"], result: ResponseRule["result"], host?: string): this {
    this.#rules.push({ command, result, host });
    return this;
  }

  /** Adds a canned result checked before every existing rule (to override one answer in a test). */
  respondFirst(command: ResponseRule["command"], result: ResponseRule["result"], host?: string): this {
    this.#rules.unshift({ command, result, host });
    return this;
  }

  /** Declares that `host` has `path` (replacing what was recorded). */
  setFile(host: string, path: string, file: string | Uint8Array | RecordedFile): this {
    const f: RecordedFile =
      typeof file === "string" || file instanceof Uint8Array
        ? { content: contentBuffer(file), mode: 0o644, owner: "root", group: "root" }
        : { ...file, content: Buffer.from(file.content) };
    const files = this.#files.get(host) ?? new Map<string, RecordedFile>();
    this.#files.set(host, files);
    files.set(path, f);
    return this;
  }

  /** The file as the executor believes `host` has it (after recorded uploads). */
  file(host: string, path: string): RecordedFile | undefined {
    return this.#files.get(host)?.get(path);
  }

  /** The operations on one host, in order. */
  opsFor(host: string): RecordedOp[] {
    return this.ops.filter((op) => op.kind !== "close" && op.host === host);
  }

  /** One line per operation, for `--dry-run` output: `[controller-0] $ sudo -n -- systemctl daemon-reload`. */
  describe(): string[] {
    return this.ops.map(describeOp);
  }

  async connect(host: HostTarget): Promise<void> {
    this.#reachable(host);
    this.ops.push({ kind: "connect", host: host.name });
  }

  async exec(host: HostTarget, argv: readonly MaybeSecret[], options: ExecOptions = {}): Promise<ExecResult> {
    const sudo = !!options.sudo && needsSudo(host);
    const built = buildCommand({ argv, sudo, env: options.env }, host.name);
    this.#reachable(host);
    const op: CommandOp = {
      kind: "exec",
      host: host.name,
      command: built.display,
      argv: argv.map(redact),
      sudo,
      env: redactEnv(options.env),
      stdinBytes: stdinBytes(options.stdin),
      timeoutMs: options.timeoutMs,
    };
    return this.#answer(op, options);
  }

  async shell(host: HostTarget, script: MaybeSecret, options: ShellOptions = {}): Promise<ExecResult> {
    const sudo = !!options.sudo && needsSudo(host);
    const args = options.args ?? [];
    const built = buildCommand(
      { argv: ["sh", "-c", script, "khw", ...args], sudo, env: options.env },
      host.name,
    );
    this.#reachable(host);
    const op: CommandOp = {
      kind: "shell",
      host: host.name,
      command: built.display,
      script: redact(script),
      args: args.map(redact),
      sudo,
      env: redactEnv(options.env),
      stdinBytes: stdinBytes(options.stdin),
      timeoutMs: options.timeoutMs,
    };
    return this.#answer(op, options);
  }

  async upload(host: HostTarget, spec: UploadSpec): Promise<UploadResult> {
    validateUploadSpec(host.name, spec);
    if (spec.localFile !== undefined) {
      throw new RemoteExecError(
        "INVALID_ARGUMENT",
        `upload ${spec.path}: the recording executor takes content only`,
        {
          host: host.name,
          hint: "read the file and pass its content",
        },
      );
    }
    this.#reachable(host);
    const content = contentBuffer(spec.content as string | Uint8Array);
    const sudo = !!spec.sudo && needsSudo(host);
    const mode = spec.mode ?? 0o644;
    const current = this.file(host.name, spec.path);
    const next: RecordedFile = {
      content,
      mode,
      owner: spec.owner ?? current?.owner ?? (sudo ? "root" : host.user),
      group: spec.group ?? current?.group ?? (sudo ? "root" : host.user),
    };
    let changed: boolean;
    if (this.#uploads === "track") {
      const same =
        current?.content.equals(content) &&
        current.mode === mode &&
        current.owner === next.owner &&
        current.group === next.group;
      changed = !same;
      this.setFile(host.name, spec.path, next);
    } else {
      changed = this.#uploads === "changed";
    }
    const sha256 = sha256Hex(content);
    this.ops.push({
      kind: "upload",
      host: host.name,
      path: spec.path,
      mode,
      owner: spec.owner,
      group: spec.group,
      sudo,
      size: content.length,
      sha256,
      changed,
    });
    return { path: spec.path, changed, size: content.length };
  }

  async download(host: HostTarget, path: string, options: DownloadOptions = {}): Promise<Buffer> {
    this.#reachable(host);
    this.ops.push({ kind: "download", host: host.name, path, sudo: !!options.sudo && needsSudo(host) });
    const f = this.file(host.name, path);
    if (!f)
      throw new RemoteExecError("FILE_NOT_FOUND", `download ${path}: no such file`, { host: host.name });
    return Buffer.from(f.content);
  }

  async close(): Promise<void> {
    if (!this.#closed) this.ops.push({ kind: "close" });
    this.#closed = true;
  }

  #reachable(host: HostTarget): void {
    if (this.#closed) throw new RemoteExecError("CLOSED", "the executor is closed", { host: host.name });
    if (this.#unreachable.has(host.name)) {
      throw new RemoteExecError(
        "CONNECT_FAILED",
        `cannot connect to ${host.host}:${host.port ?? 22} (recorded: unreachable)`,
        {
          host: host.name,
        },
      );
    }
  }

  #answer(op: CommandOp, options: ExecOptions): ExecResult {
    this.ops.push(op);
    const rule = this.#rules.find(
      (r) => (r.host === undefined || r.host === op.host) && matches(r.command, op),
    );
    if (!rule) {
      throw new RemoteExecError(
        "NOT_SCRIPTED",
        `the recording executor has no answer for: ${op.kind === "shell" ? `${op.script.split("\n")[0]}${op.script.includes("\n") ? " …" : ""}` : op.command}`,
        {
          host: op.host,
          hint: "script it in the test: respond(matcher, { code, stdout, stderr }) (a string, RegExp or function matcher)",
        },
      );
    }
    const canned = typeof rule.result === "function" ? rule.result(op) : rule.result;
    const result: ExecResult = {
      code: canned.code === undefined ? 0 : canned.code,
      stdout: canned.stdout ?? "",
      stderr: canned.stderr ?? "",
    };
    if (canned.signal !== undefined) result.signal = canned.signal;
    if (result.stdout) options.onStdout?.(result.stdout);
    if (result.stderr) options.onStderr?.(result.stderr);
    if (options.check ?? true) checkResult(op.host, op.command, result, !!options.secret);
    return result;
  }
}

function matches(matcher: ResponseRule["command"], op: CommandOp): boolean {
  if (typeof matcher === "function") return matcher(op);
  // The full line (with sudo/env), the program's own argv, and for shell ops the script itself.
  const lines =
    op.kind === "exec"
      ? [op.command, shellJoin(op.argv)]
      : [op.command, op.script, shellJoin(["sh", "-c", op.script, "khw", ...op.args])];
  if (matcher instanceof RegExp) return lines.some((l) => matcher.test(l));
  return lines.some((l) => l === matcher || l.startsWith(`${matcher} `));
}

function redact(word: MaybeSecret): string {
  return isSecret(word) ? REDACTED : word;
}

function redactEnv(env: Readonly<Record<string, MaybeSecret>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, redact(v)]));
}

function stdinBytes(stdin: string | Uint8Array | undefined): number | undefined {
  if (stdin === undefined) return undefined;
  return typeof stdin === "string" ? Buffer.byteLength(stdin) : stdin.byteLength;
}

/** A one-line, secret-free description of an operation. */
export function describeOp(op: RecordedOp): string {
  switch (op.kind) {
    case "connect":
      return `[${op.host}] connect`;
    case "exec":
    case "shell":
      return `[${op.host}] $ ${op.command}${op.stdinBytes !== undefined ? ` <stdin ${op.stdinBytes} bytes>` : ""}`;
    case "upload": {
      const owner = op.owner || op.group ? ` ${op.owner ?? ""}${op.group ? `:${op.group}` : ""}` : "";
      return `[${op.host}] upload ${shellQuote(op.path)} (${op.size} bytes, mode ${formatMode(op.mode)}${owner}${op.sudo ? ", sudo" : ""}) ${op.changed ? "changed" : "unchanged"}`;
    }
    case "download":
      return `[${op.host}] download ${shellQuote(op.path)}${op.sudo ? " (sudo)" : ""}`;
    case "close":
      return "close";
  }
}
