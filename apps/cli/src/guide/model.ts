import type { PhaseName } from "../up/phases";

/**
 * The guide as data: chapters of blocks. Text in `p`, `list` and table cells may use two inline
 * forms, the same in Markdown and HTML: `code` and [text](#anchor) (or an https:// link).
 */
export type Block =
  | { kind: "p"; text: string }
  | { kind: "h"; text: string; id: string }
  | { kind: "list"; items: string[] }
  | { kind: "code"; lang: CodeLang; text: string; caption?: string }
  | { kind: "table"; head: string[]; rows: string[][] }
  | {
      kind: "diagram";
      title: string;
      /** Mermaid text (the Markdown guide). */
      mermaid: string;
      /** A self-contained SVG (the HTML guide), when there is one. */
      svg?: string;
      /** Preformatted text for the HTML guide when there is no SVG (no CDN, no script renders Mermaid). */
      text?: string;
    };

export type CodeLang = "sh" | "yaml" | "ini" | "toml" | "json" | "text" | "cfg";

/** The chapters of "Kubernetes the Hard Way", in its order. */
export const CHAPTER_IDS = [
  "prerequisites",
  "certificate-authority",
  "kubeconfigs",
  "encryption",
  "etcd",
  "control-plane",
  "load-balancer",
  "workers",
  "tls-bootstrap",
  "admin-kubeconfig",
  "pod-network",
  "rbac-kubelet",
  "dns",
  "smoke-test",
] as const;
export type ChapterId = (typeof CHAPTER_IDS)[number];

export interface Chapter {
  id: ChapterId;
  /** 1-based. */
  number: number;
  title: string;
  /** The `khw up` phases that do what this chapter does by hand. */
  phases: PhaseName[];
  /** The chapter's file name in the Markdown guide (`01-prerequisites.md`). */
  file: string;
  blocks: Block[];
}

export interface Guide {
  title: string;
  /** The language of the text (`en`). */
  lang: string;
  intro: Block[];
  chapters: Chapter[];
  /** Headings of the index page and the table of contents. */
  labels: { contents: string; chapter: string; backToTop: string; copy: string; copied: string };
}
