import type { CertificateSpec, Destination, HostSelector } from "./catalogue";

function hostText(s: HostSelector): string {
  if ("host" in s) return s.host;
  return { controlplane: "masters", worker: "workers", loadbalancer: "load balancer", etcd: "etcd" }[s.role];
}

function destinationText(d: Destination): string {
  const files = [d.certPath, d.keyPath].filter(Boolean).map((p) => `\`${p}\``);
  return `${d.hosts.map(hostText).join(", ")}: ${files.join(" ")}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/**
 * The catalogue as a Markdown table (the README's table is this function's output), columns padded
 * the way the repository's formatter lays tables out, so formatting the README leaves it unchanged.
 */
export function catalogueTable(catalogue: readonly CertificateSpec[]): string {
  const header = ["id", "CN", "O", "signer", "key usage", "extended usage", "SANs", "validity", "goes to"];
  const rows = catalogue.map((c) => {
    const sans = [...c.sans.dns.map((d) => `DNS:${d}`), ...c.sans.ips.map((i) => `IP:${i}`)];
    return [
      `\`${c.id}\``,
      c.subject.CN,
      (c.subject.O ?? []).join(", ") || "–",
      c.signer ?? "self (CA)",
      [c.isCA ? "CA" : "", ...c.keyUsage].filter(Boolean).join(", "),
      c.extKeyUsage.join(", ") || "–",
      sans.join(" ") || "–",
      `${c.validityDays} d`,
      c.destinations.map(destinationText).join("<br>"),
    ].map(cell);
  });
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  return `${[line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")}\n`;
}
