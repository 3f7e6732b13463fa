// Guide → Markdown: an index and one file per chapter. Pure.
import type { Block, Chapter, Guide } from "./model";

function fence(text: string): string {
  let f = "```";
  while (text.includes(f)) f += "`";
  return f;
}

function block(b: Block): string {
  switch (b.kind) {
    case "p":
      return b.text;
    case "h":
      return `<a id="${b.id}"></a>\n\n## ${b.text}`;
    case "list":
      return b.items.map((i) => `- ${i}`).join("\n");
    case "code": {
      const f = fence(b.text);
      return `${b.caption ? `*${b.caption}*\n\n` : ""}${f}${b.lang}\n${b.text.replace(/\n$/, "")}\n${f}`;
    }
    case "table": {
      const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
      return [
        `| ${b.head.map(cell).join(" | ")} |`,
        `| ${b.head.map(() => "---").join(" | ")} |`,
        ...b.rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
      ].join("\n");
    }
    case "diagram": {
      const f = fence(b.mermaid);
      return `**${b.title}**\n\n${f}mermaid\n${b.mermaid.replace(/\n$/, "")}\n${f}`;
    }
  }
}

function chapterMarkdown(guide: Guide, c: Chapter, i: number): string {
  const prev = guide.chapters[i - 1];
  const next = guide.chapters[i + 1];
  const nav = [
    prev ? `← [${prev.number}. ${prev.title}](${prev.file})` : "",
    `[${guide.labels.contents}](index.md)`,
    next ? `[${next.number}. ${next.title}](${next.file}) →` : "",
  ]
    .filter(Boolean)
    .join(" · ");
  return `${[`# ${c.number}. ${c.title}`, ...c.blocks.map(block), `---\n\n${nav}`].join("\n\n")}\n`;
}

/** File name → contents: `index.md` and one `NN-<chapter>.md` per chapter. */
export function guideMarkdown(guide: Guide): Map<string, string> {
  const files = new Map<string, string>();
  const toc = guide.chapters.map((c) => `${c.number}. [${c.title}](${c.file})`).join("\n");
  files.set(
    "index.md",
    `${[`# ${guide.title}`, ...guide.intro.map(block), `## ${guide.labels.contents}`, toc].join("\n\n")}\n`,
  );
  guide.chapters.forEach((c, i) => {
    files.set(c.file, chapterMarkdown(guide, c, i));
  });
  return files;
}
