// Guide → one static HTML page: offline (no CDN, inline CSS and JS), dark and light by the reader's
// preference, a table of contents, copy buttons on code blocks; code blocks, tables and diagrams scroll
// inside themselves so nothing overflows a phone's width. Pure.
import type { Block, Chapter, Guide } from "./model";

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The inline forms the guide's text uses: `code`, **bold**, [text](#anchor or https://…). */
export function inline(text: string): string {
  const parts = text.split(/(`[^`]+`)/);
  return parts
    .map((part) => {
      if (part.startsWith("`") && part.endsWith("`") && part.length > 1) {
        return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
      }
      return escapeHtml(part)
        .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
        .replace(/\[([^\]]+)\]\((#[A-Za-z0-9_-]+|https:\/\/[^)\s]+)\)/g, '<a href="$2">$1</a>');
    })
    .join("");
}

function block(b: Block, labels: Guide["labels"]): string {
  switch (b.kind) {
    case "p":
      return `<p>${inline(b.text)}</p>`;
    case "h":
      return `<h3 id="${b.id}">${inline(b.text)}</h3>`;
    case "list":
      return `<ul>${b.items.map((i) => `<li>${inline(i)}</li>`).join("")}</ul>`;
    case "code":
      return `<div class="code"><div class="code-head"><span>${b.caption ? escapeHtml(b.caption) : b.lang}</span><button type="button" class="copy">${escapeHtml(labels.copy)}</button></div><pre><code class="lang-${b.lang}">${escapeHtml(b.text.replace(/\n$/, ""))}</code></pre></div>`;
    case "table":
      return `<div class="scroll"><table><thead><tr>${b.head.map((h) => `<th>${inline(h)}</th>`).join("")}</tr></thead><tbody>${b.rows
        .map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join("")}</tr>`)
        .join("")}</tbody></table></div>`;
    case "diagram":
      return `<figure class="diagram"><figcaption>${escapeHtml(b.title)}</figcaption><div class="scroll">${
        b.svg ? b.svg.replace(/^<\?xml[^>]*>\s*/, "") : `<pre>${escapeHtml(b.text ?? b.mermaid)}</pre>`
      }</div></figure>`;
  }
}

function chapterHtml(c: Chapter, labels: Guide["labels"]): string {
  return `<section id="${c.id}"><h2>${c.number}. ${escapeHtml(c.title)}</h2>${c.blocks.map((b) => block(b, labels)).join("\n")}<p class="top"><a href="#contents">↑ ${escapeHtml(labels.backToTop)}</a></p></section>`;
}

function toc(guide: Guide): string {
  return `<nav id="contents" aria-label="${escapeHtml(guide.labels.contents)}"><h2>${escapeHtml(guide.labels.contents)}</h2><ol>${guide.chapters
    .map(
      (c) =>
        `<li><a href="#${c.id}">${escapeHtml(c.title)}</a><ul>${c.blocks
          .filter((b): b is Extract<Block, { kind: "h" }> => b.kind === "h")
          .map((h) => `<li><a href="#${h.id}">${escapeHtml(h.text)}</a></li>`)
          .join("")}</ul></li>`,
    )
    .join("")}</ol></nav>`;
}

const CSS = `
:root{color-scheme:light dark;--bg:#fdfdfc;--fg:#1d1f21;--muted:#5c6166;--accent:#1f5fbf;--code-bg:#f1f3f5;--border:#d5d9de;--head:#e6e9ed}
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e3e5e8;--muted:#9aa1a9;--accent:#7fb0ff;--code-bg:#1f2226;--border:#353a40;--head:#262a2f}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:62rem;margin:0 auto;padding:1rem 1.25rem 4rem}
h1{font-size:1.8rem;line-height:1.25;margin:1.5rem 0 1rem}
h2{font-size:1.45rem;margin:3rem 0 .75rem;padding-top:.5rem;border-top:1px solid var(--border)}
h3{font-size:1.1rem;margin:1.75rem 0 .5rem}
a{color:var(--accent)}
p,li{overflow-wrap:anywhere}
code{font:.88em/1.45 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;background:var(--code-bg);padding:.05em .3em;border-radius:3px}
.code{margin:.75rem 0;border:1px solid var(--border);border-radius:6px;background:var(--code-bg);min-width:0}
.code-head{display:flex;justify-content:space-between;align-items:center;gap:.5rem;padding:.3rem .6rem;background:var(--head);border-bottom:1px solid var(--border);border-radius:6px 6px 0 0;font-size:.8rem;color:var(--muted)}
.code-head span{overflow-wrap:anywhere}
button.copy{font:inherit;font-size:.8rem;color:var(--fg);background:var(--bg);border:1px solid var(--border);border-radius:4px;padding:.15rem .6rem;cursor:pointer;flex:none}
pre{margin:0;padding:.75rem;overflow-x:auto;max-width:100%}
pre code{background:none;padding:0;white-space:pre}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid var(--border);padding:.3rem .5rem;text-align:left;vertical-align:top}
td code{white-space:nowrap}
th{background:var(--head)}
figure.diagram{margin:1rem 0}
figure.diagram figcaption{font-weight:600;margin-bottom:.4rem}
figure.diagram svg{display:block;max-width:100%;height:auto;background:#fff;border-radius:6px}
figure.diagram pre{background:var(--code-bg);border:1px solid var(--border);border-radius:6px}
nav#contents ol{padding-left:1.5rem}
nav#contents ul{padding-left:1rem;font-size:.9rem}
.top{font-size:.85rem}
`;

const JS = `
for (const b of document.querySelectorAll("button.copy")) {
  b.addEventListener("click", () => {
    const text = b.closest(".code").querySelector("pre").textContent;
    const done = () => { const t = b.textContent; b.textContent = COPIED; setTimeout(() => { b.textContent = t; }, 1500); };
    const fallback = () => {
      const ta = document.createElement("textarea"); ta.value = text; ta.style.position = "fixed"; ta.style.opacity = "0";
      document.body.appendChild(ta); ta.select(); try { document.execCommand("copy"); done(); } finally { ta.remove(); }
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback); else fallback();
  });
}
`;

/** The whole guide as one self-contained HTML document. */
export function guideHtml(guide: Guide): string {
  const body = [
    `<h1>${escapeHtml(guide.title)}</h1>`,
    ...guide.intro.map((b) => block(b, guide.labels)),
    toc(guide),
    ...guide.chapters.map((c) => chapterHtml(c, guide.labels)),
  ].join("\n");
  const js = JS.replace("COPIED", JSON.stringify(guide.labels.copied));
  return `<!doctype html>
<html lang="${escapeHtml(guide.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(guide.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
<script>${js}</script>
</body>
</html>
`;
}
