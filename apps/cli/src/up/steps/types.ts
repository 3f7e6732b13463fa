import type { Executor, HostTarget } from "@khw/remote-exec";
import type { BinaryArtifact, Cluster, ClusterNode } from "@khw/spec/core";
import type { Artifacts } from "../../artifacts";
import type { WorkdirPaths } from "../../workdir";
import type { FetchedArtifact } from "../binaries";
import type { EventSink } from "../events";
import type { Step } from "../phases";
import type { HostFacts } from "../preflight";
import type { Owed, UpState } from "../state";

/** A host's file as it was read before the run (`--dry-run` reads every file khw writes: plan.ts). */
export interface SeenFile {
  content: Buffer;
  mode: number;
}

/** The files read from the hosts before the run, by host and path (a RecordingExecutor seeded by plan.ts). */
export interface SeenFiles {
  file(host: string, path: string): SeenFile | undefined;
}

/**
 * Whether a file khw writes differs from what the host had before the run (missing counts as
 * different), and what it had; `differs` is undefined when the host's files were not read.
 */
export function compareSeen(
  seen: SeenFiles | undefined,
  host: string,
  file: { path: string; contents: string; mode: number },
): { differs: boolean | undefined; before: SeenFile | undefined } {
  if (!seen) return { differs: undefined, before: undefined };
  const before = seen.file(host, file.path);
  const same = before?.content.equals(Buffer.from(file.contents)) && before.mode === file.mode;
  return { differs: !same, before };
}

/** What every step of one phase shares: the cluster, the executors and the run's bookkeeping. */
export interface StepContext {
  phase: string;
  cluster: Cluster;
  artifacts: Artifacts;
  paths: WorkdirPaths;
  /** Read-only questions (facts, is-active, checksums): the real hosts, in --dry-run too. */
  probe: Executor;
  /** Where `act` makes its changes. */
  executor: Executor;
  /**
   * The hosts' files as read before the run, when they were (--dry-run). Without them an upload's
   * probe cannot tell, and the upload itself compares on the host (sha256 first; one round trip).
   */
  seen: SeenFiles | undefined;
  /** Owed actions per host (`.khw/state.json`): read them here, change them with `owe`/`settle`. */
  state: UpState;
  /** Records actions now owed on a host (saved at once: a run stopped here does them next time). */
  owe(host: string, owed: Owed): void;
  /** Marks owed actions done (saved at once). */
  settle(host: string, done: Owed): void;
  /** A release file, fetched and verified once per run. */
  artifact(a: BinaryArtifact): Promise<FetchedArtifact>;
  /** Release files' contents read for uploading, by artifact id (read once, shared by the hosts). */
  contents: Map<string, Buffer>;
  /** Preflight's facts, one entry per host that was asked. */
  facts: HostFacts[];
  /** The SSH target of any node (a failed wait reads other nodes' journals). */
  target(node: ClusterNode): HostTarget;
  signal: AbortSignal | undefined;
  sleep(ms: number): Promise<void>;
  emit: EventSink;
  log(line: string): void;
}

/** The host a step runs on. */
export interface StepHost {
  node: ClusterNode;
  target: HostTarget;
  /** `[phase] host`, the prefix of its log lines and messages. */
  where: string;
  /** --dry-run, a host that did not answer: never asked; probes plan it as a host with nothing of khw's. */
  unreached: boolean;
  /**
   * A probe that asks the host several things may say each change as soon as it finds it (and still
   * return it in `changes`): a dry run then lists it at once, in the order the hosts found them.
   */
  found(change: Change): Change;
}

/** One change a probe found (or cannot rule out): a line of the dry run's plan. */
export interface Change {
  what: string;
  /** A unified diff for a text file that is not secret. */
  diff?: string;
  /** The change is on another machine than the step's host (the admin's working directory). */
  host?: string;
  /** The probe could not tell whether it is needed: listed, not counted. */
  uncertain?: boolean;
  /** Actions the change owes on the host (restarts after a file changed). */
  owes?: Owed;
  /** Owed actions the change carries out. */
  settles?: Owed;
}

/** What a probe saw: the changes the step would make, in order. */
export interface Observation {
  changes: Change[];
  /** The step only checks (readiness, config, facts): reported "ok", never "unchanged". */
  check?: boolean;
  /** The step event's detail when something changes (the file, the manifest). */
  detail?: string;
}

/** What a step did. */
export interface Outcome {
  changes: number;
  check?: boolean;
  detail?: string;
}

/**
 * One step kind: `probe` only reads (it is all a `--dry-run` does, reporting the observation's
 * changes); `act` makes the changes the observation names and says what it did.
 */
export interface StepHandler<S extends Step, O extends Observation = Observation> {
  /** The step's name in progress lines and events. */
  name(step: S): string;
  probe(ctx: StepContext, host: StepHost, step: S): Promise<O>;
  act(ctx: StepContext, host: StepHost, step: S, observation: O): Promise<Outcome>;
}
