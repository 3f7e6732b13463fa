// The shape of the guide's words in one language. A translation implements GuideText: one file per
// chapter under chapters/<lang>/, plus common.ts; the commands, files and diagrams come from derive.ts
// and build.ts and are the same in every language.
import type { GuideContext } from "./derive";
import type { CaughtBy, FailureModeId } from "./failure-modes";
import type { ChapterId } from "./model";

/** The words of one chapter. Functions see the cluster, so the prose names this cluster's hosts and values. */
export interface ChapterProse {
  title: string;
  /** What the chapter builds and why: who trusts which certificate, who talks to whom on which port. */
  what(f: GuideContext): string[];
  /** Sentences introducing the chapter's command blocks, by key (the keys build.ts asks for). */
  steps?: Record<string, (f: GuideContext) => string>;
  /** A sequence diagram's messages (participants are component names), when the chapter has one. */
  sequence?(f: GuideContext): Array<{ from: string; to: string; text: string }>;
  /** When the chapter has nothing to do for this spec (e.g. no load balancer): why. */
  nothingToDo?(f: GuideContext): string | undefined;
  /** The failure modes explained in this chapter (see failure-modes.ts). */
  pitfalls?: Partial<Record<FailureModeId, { title: string; text(f: GuideContext): string }>>;
}

/** The words shared by every chapter. */
export interface CommonText {
  lang: string;
  title(clusterName: string): string;
  intro(f: GuideContext): string[];
  labels: {
    contents: string;
    chapter: string;
    backToTop: string;
    copy: string;
    copied: string;
    what: string;
    byHand: string;
    files: string;
    withKhw: string;
    pitfalls: string;
    topology: string;
    hosts: string;
    host: string;
    role: string;
    address: string;
    ssh: string;
    path: string;
    mode: string;
    secret: string;
    yes: string;
    no: string;
    fromAdmin(host: string): string;
    onHost(host: string, login: string): string;
  };
  /** The `khw up --only …` paragraph. */
  withKhw(phases: string[]): string;
  /** How khw catches a failure mode. */
  caughtBy(c: CaughtBy): string;
  /** The phase explanation header of `khw up --explain` / `khw explain`. */
  explainHeader(phase: string, chapter: string): string;
}

export interface GuideText {
  common: CommonText;
  chapters: Record<ChapterId, ChapterProse>;
}
