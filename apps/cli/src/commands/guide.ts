import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { writeFileAtomic } from "../fs-atomic";
import { buildGuide, en, guideHtml, guideMarkdown } from "../guide";
import { colors, type Io } from "../io";
import { loadSpecFile } from "../spec-file";

/** The HTML guide's file name in the output directory. */
export const GUIDE_HTML = "index.html";

/** Renders the guide of a spec: Markdown files and the HTML page, by name. */
export function renderGuideFiles(cluster: Parameters<typeof buildGuide>[0]): Map<string, string> {
  const guide = buildGuide(cluster, en);
  const files = guideMarkdown(guide);
  files.set(GUIDE_HTML, guideHtml(guide));
  return files;
}

export function registerGuide(program: Command, io: Io): void {
  program
    .command("guide")
    .description(
      "Write Kubernetes the Hard Way for this cluster: Markdown (one file per chapter) and one offline HTML page",
    )
    .option("-f, --file <file>", "the cluster spec (default: ./cluster.yaml, else the built-in default)")
    .option("-o, --output <dir>", "output directory", "guide")
    .action(async (opts: { file?: string; output: string }) => {
      const c = colors(io);
      const loaded = await loadSpecFile(io.cwd, opts.file, { allowDefault: true });
      const files = renderGuideFiles(loaded.cluster);
      const out = resolve(io.cwd, opts.output);
      mkdirSync(out, { recursive: true });
      for (const [name, contents] of files) writeFileAtomic(join(out, name), contents);
      const rel = relative(io.cwd, out) || ".";
      io.stdout(
        `${c.green("✓")} ${rel}/: ${files.size - 1} Markdown files (start at ${rel}/index.md) and ${rel}/${GUIDE_HTML} for ${loaded.displayName}\n`,
      );
    });
}
