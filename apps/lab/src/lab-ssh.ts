import { spawn } from "node:child_process";
import { shellQuote as quoteWord } from "@khw/host-io";
import { run } from "./_exec";
import { findExecutable } from "./_paths";
import { LabError } from "./errors";
import { DEFAULT_LAB_NAME, findLabState, type LabHostState, type LabState } from "./state";

export interface LabTarget {
  /** A host's name (master-1) or its lab address (198.18.0.11). */
  host: string;
  workdir?: string;
  labName?: string;
}

export interface LabSshOptions extends LabTarget {
  /** A command (one argv, quoted for the remote shell); without it an interactive shell. */
  argv?: readonly string[];
}

/** Finds the running lab and the host in it, or throws LAB_NOT_FOUND with what exists. */
export function resolveLabHost(target: LabTarget): { state: LabState; host: LabHostState } {
  const state = findLabState(target);
  if (!state) {
    throw new LabError("LAB_NOT_FOUND", `no lab "${target.labName ?? DEFAULT_LAB_NAME}" is running.`, {
      step: "ssh",
      hint: target.workdir
        ? `run khw lab up in ${target.workdir}`
        : "run khw lab up (or pass the lab's directory)",
    });
  }
  const host = state.hosts.find((h) => h.name === target.host || h.address === target.host);
  if (!host) {
    throw new LabError("LAB_NOT_FOUND", `the lab has no host "${target.host}".`, {
      step: "ssh",
      host: target.host,
      hint: `use one of: ${state.hosts.map((h) => h.name).join(", ")}`,
    });
  }
  return { state, host };
}

/** Quotes one argument for the remote POSIX shell. */
export function shellQuote(arg: string): string {
  return quoteWord(arg);
}

/** The `ssh` argv (without the program) that reaches a lab host with the lab key and strict host-key checking. */
export function labSshArgs(state: LabState, host: LabHostState, argv?: readonly string[]): string[] {
  const args = [
    "-i",
    state.keyFile,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    `UserKnownHostsFile=${state.knownHostsFile}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
    `root@${host.address}`,
  ];
  if (argv && argv.length > 0) args.push("--", argv.map(shellQuote).join(" "));
  return args;
}

/**
 * `ssh` into a lab host with the terminal attached: an interactive shell, or one command.
 * Resolves to ssh's exit code (the command's own code, 255 for an SSH failure).
 */
export function labSsh(options: LabSshOptions): Promise<number> {
  const { state, host } = resolveLabHost(options);
  if (!findExecutable("ssh")) {
    throw new LabError("LAB_COMMAND_FAILED", "the ssh client is not installed.", {
      step: "ssh",
      hint: "apt-get install -y openssh-client",
    });
  }
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", labSshArgs(state, host, options.argv), { stdio: "inherit" });
    child.on("error", reject);
    child.on("close", (code, sig) => resolve(code ?? (sig ? 128 : 255)));
  });
}

export interface LabExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one shell command on a lab host over ssh and collects its exit code and output. */
export function labExec(
  target: LabTarget,
  command: string,
  options: { input?: string; timeoutMs?: number } = {},
): Promise<LabExecResult> {
  const { state, host } = resolveLabHost(target);
  const args = labSshArgs(state, host);
  args.splice(args.length - 1, 0, "-o", "BatchMode=yes");
  return run("ssh", [...args, "--", command], {
    ...(options.input !== undefined ? { input: options.input } : {}),
    timeoutMs: options.timeoutMs ?? 120_000,
  });
}
