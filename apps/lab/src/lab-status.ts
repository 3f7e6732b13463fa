import { connect } from "node:net";
import { join } from "node:path";
import { cgroupPids, cmdline, isAlive, linkExists, pssBytes } from "./_system";
import { findLeftovers } from "./lab-down";
import { DEFAULT_LAB_NAME, findLabState } from "./state";
import { labNames } from "./topology";

export interface LabStatusOptions {
  workdir?: string;
  labName?: string;
}

export interface LabHostStatus {
  name: string;
  role: string;
  address: string;
  pid: number;
  /** The systemd-nspawn launcher is alive. */
  running: boolean;
  /** sshd sent its banner on `<address>:22`. */
  sshReady: boolean;
  /** Proportional set size of every process of the host (its systemd, sshd …, and its nspawn), in bytes. */
  memoryBytes: number;
}

export interface LabStatus {
  labName: string;
  /** running: every host up and answering SSH; degraded: some are not; stopped: no lab (leftovers may exist). */
  state: "running" | "degraded" | "stopped";
  workdir?: string;
  bridge: { name: string; present: boolean };
  hosts: LabHostStatus[];
  mirror?: { url: string; dir: string; pid: number; running: boolean };
  keyFile?: string;
  knownHostsFile?: string;
  clusterYaml?: string;
  /** What a crashed or half-removed lab left (run labDown to clear it). */
  leftovers: string[];
}

export async function labStatus(options: LabStatusOptions = {}): Promise<LabStatus> {
  const state = findLabState(options);
  const labName = state?.labName ?? options.labName ?? DEFAULT_LAB_NAME;
  const names = labNames(labName);
  const bridge = { name: names.bridge, present: await linkExists(names.bridge) };
  if (!state) {
    return { labName, state: "stopped", bridge, hosts: [], leftovers: await findLeftovers(labName) };
  }
  const hosts = await Promise.all(
    state.hosts.map(async (h): Promise<LabHostStatus> => {
      const running = h.pid > 0 && isAlive(h.pid) && (cmdline(h.pid)[0] ?? "").endsWith("systemd-nspawn");
      const pids = state.cgroups.length > 0 ? cgroupPids(join(state.cgroups[0]!, h.name)) : [];
      return {
        name: h.name,
        role: h.role,
        address: h.address,
        pid: h.pid,
        running,
        sshReady: running && (await sshAnswers(h.address)),
        memoryBytes: running ? pssBytes(pids) : 0,
      };
    }),
  );
  const all = hosts.length > 0 && hosts.every((h) => h.running && h.sshReady);
  const any = hosts.some((h) => h.running);
  return {
    labName,
    state: all ? "running" : any ? "degraded" : "stopped",
    workdir: state.workdir,
    bridge,
    hosts,
    ...(state.mirror ? { mirror: { ...state.mirror, running: isAlive(state.mirror.pid) } } : {}),
    keyFile: state.keyFile,
    knownHostsFile: state.knownHostsFile,
    clusterYaml: state.clusterYaml,
    leftovers: any ? [] : await findLeftovers(labName, state.stateDir),
  };
}

function sshAnswers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 22 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (d) => done(d.toString("latin1").startsWith("SSH-")));
  });
}
