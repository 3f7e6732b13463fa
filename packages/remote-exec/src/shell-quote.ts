import { shellQuote as quoteWord } from "@khw/host-io";
import { RemoteExecError } from "./errors.js";
import { isSecret, type MaybeSecret, REDACTED, reveal } from "./secret.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Quotes one word for a POSIX shell (the remote login shell runs the command line). Words made of
 * safe characters stay as they are; everything else goes in single quotes, so `$`, backticks, globs,
 * spaces and newlines reach the program unchanged.
 */
export function shellQuote(word: string): string {
  return quoteWord(word);
}

/** Quotes every word and joins them with spaces: `shellJoin(["echo", "a b"])` → `echo 'a b'`. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(quoteWord).join(" ");
}

export interface CommandSpec {
  argv: readonly MaybeSecret[];
  /** Prefix with `sudo -n --` (the caller decides: only for non-root users). */
  sudo?: boolean | undefined;
  env?: Readonly<Record<string, MaybeSecret>> | undefined;
  /**
   * Kill the command and everything it started after this long, on the host: `timeout -s KILL`
   * (coreutils) runs it in its own process group and kills the group. Not shown in `display`.
   */
  timeoutMs?: number | undefined;
  /** Prefix `exec` so the program replaces the login shell (signals reach it; one fork less). Not shown in `display`. */
  exec?: boolean | undefined;
}

export interface BuiltCommand {
  /** What is sent to the host. Contains secrets: never log it. */
  command: string;
  /** The same command with every secret replaced by `***`: safe for logs, errors and dry-run output. */
  display: string;
}

/**
 * Builds the remote command line: `[exec] [sudo -n --] [timeout -s KILL N] [env NAME=value ...] argv...`,
 * every word quoted.
 * Environment is passed with `env(1)` rather than the SSH `env` request, which sshd drops unless
 * AcceptEnv allows it. Note that values passed this way are visible in the host's process list
 * while the command runs; pass real secrets through `stdin` or an uploaded file.
 */
export function buildCommand(spec: CommandSpec, host = "?"): BuiltCommand {
  if (spec.argv.length === 0) {
    throw new RemoteExecError("INVALID_ARGUMENT", "exec needs at least one argv word", {
      host,
      hint: 'pass the program and its arguments, e.g. ["systemctl", "daemon-reload"]',
    });
  }
  const real: string[] = [];
  const shown: string[] = [];
  const push = (word: MaybeSecret, hidden = false): void => {
    const value = reveal(word);
    if (value.includes("\0")) {
      throw new RemoteExecError("INVALID_ARGUMENT", "a command word contains a NUL byte", { host });
    }
    real.push(shellQuote(value));
    if (!hidden) shown.push(isSecret(word) ? REDACTED : shellQuote(value));
  };
  if (spec.exec) push("exec", true);
  if (spec.sudo) {
    for (const w of ["sudo", "-n", "--"]) push(w);
  }
  if (spec.timeoutMs !== undefined) {
    if (!(spec.timeoutMs > 0) || !Number.isFinite(spec.timeoutMs)) {
      throw new RemoteExecError("INVALID_ARGUMENT", `invalid timeoutMs ${spec.timeoutMs}`, { host });
    }
    for (const w of ["timeout", "-s", "KILL", (spec.timeoutMs / 1000).toFixed(3)]) push(w, true);
  }
  const env = Object.entries(spec.env ?? {});
  if (env.length > 0) {
    push("env");
    for (const [name, value] of env) {
      if (!ENV_NAME.test(name)) {
        throw new RemoteExecError(
          "INVALID_ARGUMENT",
          `invalid environment variable name ${JSON.stringify(name)}`,
          {
            host,
            hint: "names are letters, digits and underscores, not starting with a digit",
          },
        );
      }
      const v = reveal(value);
      if (v.includes("\0")) {
        throw new RemoteExecError("INVALID_ARGUMENT", `environment variable ${name} contains a NUL byte`, {
          host,
        });
      }
      real.push(shellQuote(`${name}=${v}`));
      shown.push(isSecret(value) ? `${name}=${REDACTED}` : shellQuote(`${name}=${v}`));
    }
  }
  for (const w of spec.argv) push(w);
  return { command: real.join(" "), display: shown.join(" ") };
}
