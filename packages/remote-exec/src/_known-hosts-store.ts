import { randomBytes } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { checkHostKey, formatKnownHostsLine, type KnownHostsEntry, parseKnownHosts } from "./known-hosts.js";

/** A known_hosts file: read once per executor, appended to (serially) under accept-new. */
export class KnownHostsStore {
  readonly file: string;
  readonly #hash: boolean;
  #entries: Promise<KnownHostsEntry[]> | undefined;
  #endsWithNewline = true;
  #lines = 0;
  #chain: Promise<void> = Promise.resolve();

  constructor(file: string, hash: boolean) {
    this.file = file;
    this.#hash = hash;
  }

  entries(): Promise<KnownHostsEntry[]> {
    this.#entries ??= readFile(this.file, "utf8").then(
      (text) => {
        this.#endsWithNewline = text === "" || text.endsWith("\n");
        this.#lines = text === "" ? 0 : text.split("\n").length - (this.#endsWithNewline ? 1 : 0);
        return parseKnownHosts(text);
      },
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return [];
        throw new Error(`cannot read known_hosts file ${this.file}: ${err.code ?? err.message}`);
      },
    );
    return this.#entries;
  }

  /**
   * Appends `name key` (hashed if configured) and makes it known to this process at once.
   * Resolves with the line it is on.
   */
  add(name: string, key: Buffer): Promise<number> {
    const run = this.#chain.then(async () => {
      const entries = await this.entries();
      const verdict = checkHostKey(entries, name, key);
      if (verdict.status === "known") return verdict.entry.line;
      const line = formatKnownHostsLine(name, key, this.#hash ? randomBytes(20) : undefined);
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      await appendFile(this.file, `${this.#endsWithNewline ? "" : "\n"}${line}\n`, { mode: 0o600 });
      this.#endsWithNewline = true;
      this.#lines += 1;
      entries.push(...parseKnownHosts(line).map((e) => ({ ...e, line: this.#lines })));
      return this.#lines;
    });
    this.#chain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** Makes `name key` known to this process only (nothing written; line 0): a dry run's accept-new. */
  async remember(name: string, key: Buffer): Promise<void> {
    const entries = await this.entries();
    entries.push(...parseKnownHosts(formatKnownHostsLine(name, key)).map((e) => ({ ...e, line: 0 })));
  }
}
