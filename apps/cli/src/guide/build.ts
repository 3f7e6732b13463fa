// Spec → chapters: which blocks each chapter has, in which order. The words come from a GuideText
// (chapters/<lang>/), the commands from derive.ts, the diagrams from diagrams.ts. Pure.
import type { Cluster, ClusterNode } from "@khw/spec/core";
import { type ArtifactFile, filesForPhase } from "../artifacts";
import { renderMermaid, renderSvg, topologyFromCluster } from "../day2/diagram";
import { SMOKE_TESTS } from "../day2/smoke";
import type { PhaseName, Step } from "../up/phases";
import {
  ADMIN_MACHINE_KUBECONFIG,
  type GuideContext,
  guideContext,
  type HostCommands,
  KHW_STATE,
  kubeconfigEntries,
  kubectlConfigCommands,
  LOCAL,
  opensslCommands,
  phaseCommands,
  SECRET_VARS,
  sshCommand,
  withSecretVars,
} from "./derive";
import { certificateTree, tlsBootstrapSequence } from "./diagrams";
import { FAILURE_MODES } from "./failure-modes";
import { type Block, CHAPTER_IDS, type Chapter, type ChapterId, type Guide } from "./model";
import type { ChapterProse, GuideText } from "./text";

/** The `khw up` phases each chapter does by hand. */
export const CHAPTER_PHASES: Record<ChapterId, PhaseName[]> = {
  prerequisites: ["preflight"],
  "certificate-authority": ["pki"],
  kubeconfigs: ["kubeconfigs"],
  encryption: ["encryption"],
  etcd: ["etcd"],
  "control-plane": ["control-plane"],
  "load-balancer": ["loadbalancer"],
  workers: ["workers"],
  "tls-bootstrap": ["rbac"],
  "admin-kubeconfig": ["admin"],
  "pod-network": ["network"],
  "rbac-kubelet": ["rbac"],
  dns: ["dns"],
  "smoke-test": ["smoke"],
};

/** The rbac phase's steps, split between the TLS bootstrap chapter and the kubelet RBAC chapter. */
const isTlsBootstrapStep = (s: Step) =>
  s.kind === "apply" ? s.manifest.secret === true : s.kind === "wait" || s.kind === "run";

const p = (text: string): Block => ({ kind: "p", text });
const sh = (text: string, caption?: string): Block => ({
  kind: "code",
  lang: "sh",
  text,
  ...(caption ? { caption } : {}),
});

const chapterFile = (n: number, id: ChapterId) => `${String(n).padStart(2, "0")}-${id}.md`;

const step = (prose: ChapterProse, key: string, f: GuideContext): string => {
  const s = prose.steps?.[key];
  if (!s) throw new Error(`the guide's text has no step '${key}' for '${prose.title}' (a bug in khw)`);
  return s(f);
};

function hostBlocks(text: GuideText, hosts: HostCommands[]): Block[] {
  const L = text.common.labels;
  return hosts.flatMap((h) => [
    ...(h.fromAdmin ? [sh(h.fromAdmin, L.fromAdmin(h.node.name))] : []),
    sh(h.onHost, L.onHost(h.node.name, sshCommand(h.node))),
  ]);
}

function filesTable(text: GuideText, files: ArtifactFile[]): Block[] {
  const L = text.common.labels;
  if (files.length === 0) return [];
  return [
    {
      kind: "table",
      head: [L.host, L.path, L.mode, L.secret],
      rows: files.map((f) => [
        f.host,
        `\`${f.path}\``,
        `0${(f.mode & 0o777).toString(8)}`,
        f.secret ? L.yes : L.no,
      ]),
    },
  ];
}

/** The blocks of "by hand" for each chapter. */
function byHand(id: ChapterId, f: GuideContext, text: GuideText): Block[] {
  const prose = text.chapters[id];
  const c = f.cluster;
  const phase = (name: PhaseName, only?: (s: Step) => boolean) =>
    hostBlocks(text, phaseCommands(f, name, only));
  switch (id) {
    case "prerequisites":
      return [
        p(step(prose, "hosts", f)),
        hostsTable(text, c),
        p(step(prose, "checks", f)),
        sh(
          c.nodes
            .map((n) =>
              sshCommand(
                n,
                `hostname; ip -4 -o addr show | grep -w ${n.address} || echo "${n.address} is NOT on ${n.name}"; swapon --show; date -u +%s`,
              ),
            )
            .join("\n"),
        ),
      ];
    case "certificate-authority":
      return [
        p(step(prose, "workdir", f)),
        sh(`mkdir -p ${LOCAL.pki} && cd ${LOCAL.pki}`),
        ...f.catalogue.flatMap((cert) => [
          p(`\`${cert.id}\`: ${cert.description}.`),
          sh(opensslCommands(cert)),
        ]),
        p(step(prose, "inspect", f)),
        sh(
          `openssl x509 -in kube-apiserver.crt -noout -subject -issuer -ext subjectAltName,keyUsage,extendedKeyUsage\ncd ..`,
        ),
        p(step(prose, "distribute", f)),
        ...phase("pki"),
      ];
    case "kubeconfigs": {
      const needsToken = c.workers.some((w) => w.kubeletCredentials === "tls-bootstrap");
      return [
        ...(needsToken
          ? [
              p(step(prose, "token", f)),
              sh(
                `${SECRET_VARS.tokenId}=$(openssl rand -hex 3)\n${SECRET_VARS.tokenSecret}=$(openssl rand -hex 8)\n${SECRET_VARS.expiration}=$(date -u -d '+24 hours' +%Y-%m-%dT%H:%M:%SZ)`,
              ),
            ]
          : []),
        p(step(prose, "workdir", f)),
        sh(`mkdir -p ${LOCAL.kubeconfigs}`),
        ...kubeconfigEntries(c)
          .filter((e) => e.def.audience !== "admin")
          .flatMap((e) => [
            p(
              `\`${LOCAL.kubeconfigs}/${e.file}\` → ${e.nodes.map((n) => n?.name ?? "admin").join(", ")}: ${e.def.description}.`,
            ),
            sh(kubectlConfigCommands(c, e.def, e.nodes[0], `${LOCAL.kubeconfigs}/${e.file}`)),
          ]),
        p(step(prose, "distribute", f)),
        ...phase("kubeconfigs"),
      ];
    }
    case "encryption": {
      const file = f.artifacts.files.find((x) => x.phase === "encryption");
      return [
        p(step(prose, "key", f)),
        sh(
          `${SECRET_VARS.encryptionKey}=$(head -c 32 /dev/urandom | base64)\ncat > ${LOCAL.encryptionConfig} <<EOF\n${withSecretVars(file?.contents ?? "").trimEnd()}\nEOF\nchmod 0600 ${LOCAL.encryptionConfig}`,
        ),
        p(step(prose, "distribute", f)),
        ...phase("encryption"),
      ];
    }
    case "etcd":
    case "control-plane":
    case "load-balancer":
    case "workers":
    case "pod-network":
    case "dns":
      return [p(step(prose, "run", f)), ...phase(CHAPTER_PHASES[id][0]!)];
    case "smoke-test":
      return [
        p(step(prose, "run", f)),
        ...phase("smoke"),
        p(step(prose, "tests", f)),
        { kind: "list", items: SMOKE_TESTS.map((t) => `\`${t.id}\`: ${t.title}`) },
      ];
    case "tls-bootstrap":
      return [p(step(prose, "run", f)), ...phase("rbac", isTlsBootstrapStep)];
    case "rbac-kubelet":
      return [p(step(prose, "run", f)), ...phase("rbac", (s) => !isTlsBootstrapStep(s))];
    case "admin-kubeconfig":
      return [
        p(step(prose, "run", f)),
        sh(kubectlConfigCommands(c, ADMIN_MACHINE_KUBECONFIG.def, undefined, ADMIN_MACHINE_KUBECONFIG.file)),
        sh(
          `kubectl --kubeconfig ${ADMIN_MACHINE_KUBECONFIG.file} get --raw /readyz\nkubectl --kubeconfig ${ADMIN_MACHINE_KUBECONFIG.file} get nodes -o wide`,
        ),
        ...phase("admin"),
      ];
  }
}

function hostsTable(text: GuideText, cluster: Cluster): Block {
  const L = text.common.labels;
  return {
    kind: "table",
    head: [L.host, L.role, L.address, L.ssh],
    rows: cluster.nodes.map((n: ClusterNode) => [n.name, n.role, n.address, `\`${sshCommand(n)}\``]),
  };
}

function chapterFiles(f: GuideContext, id: ChapterId): ArtifactFile[] {
  if (id === "admin-kubeconfig") return filesForPhase(f.artifacts, "admin");
  if (id === "tls-bootstrap" || id === "rbac-kubelet") {
    return filesForPhase(f.artifacts, "rbac").filter(
      (x) => (x.secret === true) === (id === "tls-bootstrap") && x.path.startsWith("/manifests/"),
    );
  }
  const ph = CHAPTER_PHASES[id][0]!;
  return ph === "preflight" || ph === "smoke" ? [] : filesForPhase(f.artifacts, ph);
}

function diagrams(id: ChapterId, f: GuideContext, text: GuideText): Block[] {
  if (id === "certificate-authority") return [certificateTree(f)];
  if (id === "tls-bootstrap" && f.cluster.workers.some((w) => w.kubeletCredentials === "tls-bootstrap")) {
    return [tlsBootstrapSequence(f, text)];
  }
  if (id === "prerequisites") return [topologyDiagram(f, text)];
  return [];
}

function topologyDiagram(f: GuideContext, text: GuideText): Block {
  const t = topologyFromCluster(f.cluster);
  return {
    kind: "diagram",
    title: text.common.labels.topology,
    mermaid: renderMermaid(t),
    svg: renderSvg(t),
  };
}

function chapter(id: ChapterId, n: number, f: GuideContext, text: GuideText): Chapter {
  const prose = text.chapters[id];
  const L = text.common.labels;
  const phases = CHAPTER_PHASES[id];
  const h = (suffix: string, title: string): Block => ({ kind: "h", id: `${id}-${suffix}`, text: title });
  const hands = byHand(id, f, text);
  const nothing = prose.nothingToDo?.(f);
  const pitfalls = FAILURE_MODES.filter((m) => m.chapter === id).flatMap((m) => {
    const t = prose.pitfalls?.[m.id];
    if (!t) throw new Error(`the guide's text has no pitfall '${m.id}' in '${id}' (a bug in khw)`);
    return [`**${t.title}.** ${t.text(f)} ${m.caughtBy.map((cb) => text.common.caughtBy(cb)).join(" ")}`];
  });
  const files = chapterFiles(f, id);
  const blocks: Block[] = [
    h("what", L.what),
    ...prose.what(f).map(p),
    ...diagrams(id, f, text),
    h("by-hand", L.byHand),
    ...(nothing ? [p(nothing)] : hands),
    ...(files.length ? [h("files", L.files), ...filesTable(text, files)] : []),
    h("khw", L.withKhw),
    p(text.common.withKhw(phases)),
    ...(pitfalls.length ? [h("pitfalls", L.pitfalls), { kind: "list", items: pitfalls } as Block] : []),
  ];
  return { id, number: n, title: prose.title, phases, file: chapterFile(n, id), blocks };
}

/** The whole guide for a cluster, in one language. */
export function buildGuide(cluster: Cluster, text: GuideText): Guide {
  const f = guideContext(cluster);
  const L = text.common.labels;
  return {
    title: text.common.title(cluster.name),
    lang: text.common.lang,
    intro: [...text.common.intro(f).map(p), hostsTable(text, cluster)],
    chapters: CHAPTER_IDS.map((id, i) => chapter(id, i + 1, f, text)),
    labels: {
      contents: L.contents,
      chapter: L.chapter,
      backToTop: L.backToTop,
      copy: L.copy,
      copied: L.copied,
    },
  };
}

export { KHW_STATE };
