import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomicSync } from "@khw/host-io";
import { RUN_DIR } from "./_paths";
import type { LabRole } from "./topology";

export const DEFAULT_LAB_NAME = "khw";

export interface LabHostState {
  name: string;
  role: LabRole;
  address: string;
  /** The systemd-nspawn launcher's PID (0 before launch). */
  pid: number;
  dir: string;
  root: string;
}

/** What a running (or half-started, or crashed) lab consists of: enough for `labDown` to undo it. */
export interface LabState {
  version: 1;
  labName: string;
  workdir: string;
  stateDir: string;
  bridge: string;
  gateway: string;
  /** `<hierarchy>/khw-lab-<name>` directories created for the launchers. */
  cgroups: string[];
  mountTag: string;
  /** Whether this lab mounted the tmpfs on /run/systemd/nspawn. */
  nspawnTmpfs: boolean;
  baseRootfs: string;
  keyFile: string;
  knownHostsFile: string;
  clusterYaml: string;
  hosts: LabHostState[];
  mirror?: { pid: number; url: string; dir: string };
  /** `khw lab up --as-vagrant`: khw logs in as vagrant through a forwarded port per host. */
  asVagrant?: boolean;
  /** The port forwarder of --as-vagrant: host name → port on 127.0.0.1. */
  forwarder?: { pid: number; ports: Record<string, number> };
  startedAt: string;
}

export function labStateDir(workdir: string): string {
  return join(resolve(workdir), ".khw-lab");
}

function runFile(labName: string): string {
  return join(RUN_DIR, `${labName}.json`);
}

/** Records the state in the lab dir and in /run/khw-lab/<name>.json (so a lab can be found by name). */
export function writeLabState(state: LabState): void {
  mkdirSync(state.stateDir, { recursive: true });
  mkdirSync(RUN_DIR, { recursive: true });
  const text = `${JSON.stringify(state, null, 2)}\n`;
  writeFileAtomicSync(join(state.stateDir, "state.json"), text);
  writeFileAtomicSync(runFile(state.labName), text);
}

function readJson(file: string): LabState | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as LabState;
    return value && value.version === 1 ? value : undefined;
  } catch {
    return undefined;
  }
}

export function readLabState(where: { workdir?: string; labName?: string }): LabState | undefined {
  if (where.workdir) {
    const s = readJson(join(labStateDir(where.workdir), "state.json"));
    if (s) return s;
  }
  if (where.labName) return readJson(runFile(where.labName));
  return undefined;
}

export function removeLabState(state: { labName: string; stateDir?: string }): void {
  if (state.stateDir) rmSync(join(state.stateDir, "state.json"), { force: true });
  rmSync(runFile(state.labName), { force: true });
}

/** Names of labs that announced themselves in /run/khw-lab. */
export function announcedLabs(): string[] {
  if (!existsSync(RUN_DIR)) return [];
  try {
    return readdirSync(RUN_DIR)
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.slice(0, -5));
  } catch {
    return [];
  }
}

/**
 * The lab meant by a command: the named one when a name is given (the workdir's state only if it is
 * that lab), else the workdir's, else the default lab's announcement in /run/khw-lab.
 */
export function findLabState(where: { workdir?: string; labName?: string }): LabState | undefined {
  const fromWorkdir = where.workdir ? readLabState({ workdir: where.workdir }) : undefined;
  if (where.labName) {
    return fromWorkdir?.labName === where.labName ? fromWorkdir : readLabState({ labName: where.labName });
  }
  return fromWorkdir ?? readLabState({ labName: DEFAULT_LAB_NAME });
}
