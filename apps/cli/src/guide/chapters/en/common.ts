import type { CommonText } from "../../text";

export const common: CommonText = {
  lang: "en",
  title: (name) => `Kubernetes the Hard Way — ${name}`,
  intro: (f) => [
    `This is "Kubernetes the Hard Way" written for one cluster: \`${f.cluster.name}\`, with ${f.cluster.controlPlanes.length} control plane(s), ${f.cluster.workers.length} worker(s) and ${f.cluster.loadBalancer ? `a load balancer at ${f.cluster.loadBalancer.address}` : "no load balancer"}. Every name, address, certificate subject, path and flag below comes from the same catalogues \`khw gen\` and \`khw up\` use, so what you type by hand is what khw would do.`,
    `Run the commands on the admin machine from the directory of cluster.yaml unless a block says otherwise. Blocks titled "on <host>" run on that host as root: open a shell with the ssh command shown, then \`sudo -i\`. Secrets never appear in this guide: the bootstrap token and the encryption key are shell variables you set once (khw keeps its own in \`pki/\`).`,
    "Each chapter says what it builds and why, gives the commands, lists the files khw generates for it, names the `khw up --only PHASE` that does the same, and the mistakes people make there.",
  ],
  labels: {
    contents: "Contents",
    chapter: "Chapter",
    backToTop: "Back to the contents",
    copy: "Copy",
    copied: "Copied",
    what: "What it builds and why",
    byHand: "By hand",
    files: "Files khw generates",
    withKhw: "With khw",
    pitfalls: "What goes wrong",
    topology: "Topology: who talks to whom, on which port",
    hosts: "Hosts",
    host: "host",
    role: "role",
    address: "address",
    ssh: "ssh",
    path: "path",
    mode: "mode",
    secret: "secret",
    yes: "yes",
    no: "no",
    fromAdmin: (host) => `on the admin machine: copy ${host}'s files`,
    onHost: (host, login) => `on ${host}, as root (${login}, then sudo -i)`,
  },
  withKhw: (phases) =>
    `${phases.map((p) => `\`khw up --only ${p}\``).join(", ")} does all of the above (idempotent: a second run changes nothing); \`khw explain ${phases[0]}\` prints this chapter's commands; \`khw gen\` writes every file into \`out/<host>/<path>\` to read first.`,
  caughtBy: (c) => {
    switch (c.kind) {
      case "preflight":
        return `khw: \`khw up\` stops in preflight (check \`${c.check}\`) before touching a host.`;
      case "spec":
        return `khw: spec validation reports \`${c.code}\` (\`khw validate\`).`;
      case "phase":
        return `khw: \`khw up --only ${c.phase}\` waits for it, bounded, and stops with a hint instead of hanging.`;
      case "generated":
        return "khw: derives the value from the spec, so it cannot disagree with the rest.";
    }
  },
  explainHeader: (phase, chapter) => `[${phase}] ${chapter}`,
};
