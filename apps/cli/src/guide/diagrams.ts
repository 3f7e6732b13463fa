// The guide's own pictures: the certificate tree and the TLS bootstrap sequence, as Mermaid (the
// Markdown guide) and as preformatted text (the HTML guide: no script renders Mermaid offline).
import { ADMIN_HOST } from "@khw/spec/core";
import type { GuideContext } from "./derive";
import type { Block } from "./model";
import type { GuideText } from "./text";

const mid = (id: string) => `c_${id.replace(/[^A-Za-z0-9]/g, "_")}`;
const mq = (s: string) => s.replace(/"/g, "#quot;");

/** The hosts a catalogue entry's files go to, by name. */
function holders(f: GuideContext, id: string): string[] {
  const names = new Set<string>();
  const cert = f.catalogue.find((c) => c.id === id)!;
  for (const d of cert.destinations) {
    for (const s of d.hosts) {
      if ("host" in s) names.add(s.host);
      else {
        const role = s.role === "etcd" ? "controlplane" : s.role;
        for (const n of f.cluster.nodes.filter((x) => x.role === role)) names.add(n.name);
      }
    }
  }
  const order = [...f.cluster.nodes.map((n) => n.name), ADMIN_HOST];
  return [...names].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

const subjectText = (c: GuideContext["catalogue"][number]) =>
  `CN=${c.subject.CN}${(c.subject.O ?? []).map((o) => ` O=${o}`).join("")}`;

/** Which CA signs which certificate, each with its subject, usages and the hosts that hold it. */
export function certificateTree(f: GuideContext): Block {
  const lines = ["flowchart LR"];
  for (const c of f.catalogue) {
    const usage = c.isCA ? "CA" : c.extKeyUsage.join(", ") || "signing key";
    lines.push(
      `  ${mid(c.id)}["${mq(`${c.id}<br/>${subjectText(c)}<br/>${usage}<br/>→ ${holders(f, c.id).join(", ")}`)}"]`,
    );
  }
  for (const c of f.catalogue) if (c.signer) lines.push(`  ${mid(c.signer)} --> ${mid(c.id)}`);
  const text: string[] = [];
  const walk = (id: string, prefix: string, last: boolean, root: boolean) => {
    const c = f.catalogue.find((x) => x.id === id)!;
    const usage = c.isCA ? "CA" : c.extKeyUsage.join("+") || "signing key";
    text.push(
      `${root ? "" : `${prefix}${last ? "└── " : "├── "}`}${c.id}  ${subjectText(c)}  [${usage}]  → ${holders(f, c.id).join(", ")}`,
    );
    const kids = f.catalogue.filter((x) => x.signer === id);
    kids.forEach((k, i) => {
      walk(k.id, root ? "" : `${prefix}${last ? "    " : "│   "}`, i === kids.length - 1, false);
    });
  };
  for (const root of f.catalogue.filter((c) => c.signer === null)) walk(root.id, "", true, true);
  return {
    kind: "diagram",
    title: "certificates",
    mermaid: `${lines.join("\n")}\n`,
    text: `${text.join("\n")}\n`,
  };
}

/** The TLS bootstrap of the tls-bootstrap workers as a sequence diagram. */
export function tlsBootstrapSequence(f: GuideContext, text: GuideText): Block {
  const messages = text.chapters["tls-bootstrap"].sequence?.(f) ?? [];
  const participants = [...new Set(messages.flatMap((m) => [m.from, m.to]))];
  const mermaid = [
    "sequenceDiagram",
    ...participants.map((x) => `  participant ${mid(x)} as ${x}`),
    ...messages.map((m) => `  ${mid(m.from)}->>${mid(m.to)}: ${m.text.replace(/[;#]/g, ",")}`),
  ].join("\n");
  const width = Math.max(...participants.map((x) => x.length));
  const plain = messages.map(
    (m, i) => `${String(i + 1).padStart(2)}. ${m.from.padEnd(width)} → ${m.to.padEnd(width)}  ${m.text}`,
  );
  return {
    kind: "diagram",
    title: text.chapters["tls-bootstrap"].title,
    mermaid: `${mermaid}\n`,
    text: `${plain.join("\n")}\n`,
  };
}
