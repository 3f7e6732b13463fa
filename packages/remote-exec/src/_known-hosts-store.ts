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

  /** Appends `name key` (hashed if configured) and makes it known to this process at once. */
  add(name: string, key: Buffer): Promise<void> {
    const run = this.#chain.then(async () => {
      const entries = await this.entries();
      if (checkHostKey(entries, name, key).status === "known") return;
      const line = formatKnownHostsLine(name, key, this.#hash ? randomBytes(20) : undefined);
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      await appendFile(this.file, `${this.#endsWithNewline ? "" : "\n"}${line}\n`, { mode: 0o600 });
      this.#endsWithNewline = true;
      this.#lines += 1;
      entries.push(...parseKnownHosts(line).map((e) => ({ ...e, line: this.#lines })));
    });
    this.#chain = run.catch(() => {});
    return run;
  }
}
