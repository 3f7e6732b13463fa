// `khw explain PHASE` and `khw up --explain`: a phase's chapter(s) as terminal text — what it builds
// and why, then the manual commands. The same chapter data as the guide. Pure.
import type { PhaseName } from "../up/phases";
import type { Block, Guide } from "./model";

function plain(text: string): string {
  return text.replace(/\*\*([^*]+)\*\*/g, "$1").replace(/\[([^\]]+)\]\([^)]+\)/g, "$1");
}

function blockText(b: Block): string {
  switch (b.kind) {
    case "p":
      return plain(b.text);
    case "h":
      return `== ${b.text}`;
    case "list":
      return b.items.map((i) => `  - ${plain(i)}`).join("\n");
    case "code":
      return `${b.caption ? `# ${b.caption}\n` : ""}${b.text.replace(/^/gm, "    ")}`;
    case "table":
      return b.rows.map((r) => `  ${r.map(plain).join("  ")}`).join("\n");
    case "diagram":
      return b.text ? `${b.title}:\n${b.text.replace(/^/gm, "    ")}` : "";
  }
}

export interface ExplainOptions {
  /** Only "what it builds and why" (the short form `khw up --explain` prints before each phase). */
  brief?: boolean;
}

/** The chapters of the guide that do what `khw up --only phase` does, as terminal text. */
export function explainPhase(guide: Guide, phase: PhaseName, options: ExplainOptions = {}): string {
  const chapters = guide.chapters.filter((c) => c.phases.includes(phase));
  return chapters
    .map((c) => {
      const out: string[] = [`── ${c.number}. ${c.title} [${phase}] ──`];
      let section = "";
      for (const b of c.blocks) {
        if (b.kind === "h") section = b.id.slice(c.id.length + 1);
        if (options.brief && section !== "what" && section !== "by-hand") continue;
        if (options.brief && b.kind === "diagram") continue;
        if (b.kind === "h" && section === "khw") continue;
        if (section === "khw") continue;
        const t = blockText(b);
        if (t) out.push(t);
      }
      return out.join("\n\n");
    })
    .join("\n\n");
}
