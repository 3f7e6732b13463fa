// khw guide / khw explain / khw up --explain --step: the chapters hold this spec's facts (from the
// catalogues, not constants), no secret leaks, every failure mode is explained and really caught by
// the check the guide names, the committed example under docs/guide is what `khw guide` writes today.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ClusterSpecInput,
  defaultClusterSpecInput,
  loadCluster,
  parseClusterYaml,
  renderClusterYaml,
  SpecError,
} from "@khw/spec";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderGuideFiles } from "../src/commands/guide";
import { buildGuide, en, FAILURE_MODES, guideContext, SECRET_VARS } from "../src/guide";
import { CHAPTER_IDS, type Guide } from "../src/guide/model";
import { upExplainHook } from "../src/guide/up-hook";
import { PHASE_NAMES, PHASES } from "../src/up/phases";
import { checkClockSkew, checkHostFacts, parseFacts } from "../src/up/preflight";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { FakeHosts, healthyFacts, makeFakeBundle } from "./golden/fake-hosts";
import { fixedSeams, UNUSUAL_SPEC } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";

const DOCS = join(import.meta.dirname, "../../../docs/guide");

const clusters = {
  default: loadCluster(defaultClusterSpecInput()).cluster,
  unusual: parseClusterYaml(UNUSUAL_SPEC).cluster,
};

const allText = (g: Guide) => JSON.stringify(g);
const chapterText = (g: Guide, id: string) => JSON.stringify(g.chapters.find((c) => c.id === id));

describe("the guide's chapters", () => {
  for (const [name, cluster] of Object.entries(clusters)) {
    const guide = buildGuide(cluster, en);
    const ctx = guideContext(cluster);

    it(`${name}: the 14 chapters of the original, in order, each with what/why, by hand and khw`, () => {
      expect(guide.chapters.map((c) => c.id)).toEqual([...CHAPTER_IDS]);
      for (const c of guide.chapters) {
        const ids = c.blocks.flatMap((b) => (b.kind === "h" ? [b.id] : []));
        expect(ids).toEqual(expect.arrayContaining([`${c.id}-what`, `${c.id}-by-hand`, `${c.id}-khw`]));
        expect(chapterText(guide, c.id)).toContain(`khw up --only ${c.phases[0]}`);
        for (const p of c.phases) expect(PHASE_NAMES).toContain(p);
      }
      const all = guide.chapters.flatMap((c) => c.blocks.flatMap((b) => (b.kind === "h" ? [b.id] : [])));
      expect(new Set(all).size).toBe(all.length);
      // Every phase of `khw up` is explained by some chapter.
      expect(new Set(guide.chapters.flatMap((c) => c.phases))).toEqual(new Set(PHASE_NAMES));
    });

    it(`${name}: certificates, kubeconfigs, units and hosts come from the catalogues and the spec`, () => {
      const certs = chapterText(guide, "certificate-authority");
      for (const c of ctx.catalogue) {
        expect(certs).toContain(c.subject.CN);
        for (const o of c.subject.O ?? []) expect(certs).toContain(`/O=${o}`);
        for (const san of [...c.sans.dns.map((d) => `DNS:${d}`), ...c.sans.ips.map((i) => `IP:${i}`)])
          expect(certs).toContain(san);
      }
      expect(chapterText(guide, "kubeconfigs")).toContain(`--server=${cluster.api.url}`);
      expect(chapterText(guide, "etcd")).toContain(cluster.etcd.initialCluster);
      for (const w of cluster.workers)
        expect(chapterText(guide, "workers")).toContain(`--node-ip=${w.address}`);
      for (const n of cluster.nodes) expect(allText(guide)).toContain(n.address);
      // Unit files are khw's own renderings, byte for byte.
      const unit = ctx.artifacts.files.find((f) => f.path === "/etc/systemd/system/kube-apiserver.service")!;
      expect(JSON.stringify(guide)).toContain(JSON.stringify(unit.contents.trimEnd()).slice(1, -1));
    });

    it(`${name}: every shell block is valid shell (bash -n)`, () => {
      const blocks = guide.chapters.flatMap((c) =>
        c.blocks.flatMap((b) => (b.kind === "code" && b.lang === "sh" ? [{ c: c.id, text: b.text }] : [])),
      );
      expect(blocks.length).toBeGreaterThan(30);
      for (const b of blocks) {
        const r = spawnSync("bash", ["-n"], { input: b.text, encoding: "utf8" });
        expect(r.stderr, `${b.c}:\n${b.text.slice(0, 300)}`).toBe("");
        expect(r.status).toBe(0);
      }
    });

    it(`${name}: no secret or placeholder reaches the guide`, () => {
      const files = [...renderGuideFiles(cluster).values()].join("\n");
      for (const leak of ["khwtok", "guidetokensecret", "S0hXR1VJREU", "PRIVATE KEY-----\n", "a2h3LWd1aWRl"])
        expect(files).not.toContain(leak);
      expect(files).toContain(`\${${SECRET_VARS.encryptionKey}}`);
    });
  }

  it("the unusual spec's own values show, the default's do not", () => {
    const g = allText(buildGuide(clusters.unusual, en));
    for (const v of [
      "cp-3",
      "10.10.0.13",
      "172.20.0.0/16",
      "k8s.internal",
      "api.lab-east.example",
      "extra-lb",
    ])
      expect(g).toContain(v);
    expect(g).not.toContain("192.168.56.");
    expect(g).not.toContain("master-1");
  });

  it("a spec without a load balancer or TLS bootstrapping says so instead of inventing commands", () => {
    const input = defaultClusterSpecInput();
    input.nodes = input.nodes.filter((n) => n.role !== "loadbalancer" && n.name !== "master-2");
    input.nodes = input.nodes.map((n) =>
      n.role === "worker" ? { ...n, kubelet: { credentials: "certificate" as const } } : n,
    );
    const g = buildGuide(loadCluster(input).cluster, en);
    expect(chapterText(g, "load-balancer")).toContain("no load balancer");
    expect(chapterText(g, "load-balancer")).not.toContain("haproxy -c");
    expect(chapterText(g, "tls-bootstrap")).toContain("not used");
  });
});

/** Issue codes the spec validation reports for an input (errors and warnings). */
function specCodes(input: ClusterSpecInput): string[] {
  try {
    return loadCluster(input).warnings.map((w) => w.code);
  } catch (e) {
    if (e instanceof SpecError) return e.issues.map((i) => i.code);
    throw e;
  }
}

describe("steps khw runs as scripts of their own", () => {
  it("an image import's `exit` or a route's `set --` cannot end or disturb the rest of a worker's block", () => {
    const input = parseClusterYaml(
      UNUSUAL_SPEC.replace(
        "  - { name: node-1, role: worker, address: 10.10.0.21 }\n",
        "  - { name: node-1, role: worker, address: 10.10.0.21 }\n  - { name: node-2, role: worker, address: 10.10.0.22 }\n",
      ),
    ).spec;
    const spec = {
      ...input,
      binaries: {
        ...input.binaries,
        source: "mirror" as const,
        mirror: "http://198.18.0.1:8080",
        images: [{ ref: "registry.k8s.io/pause:3.10", path: "khw-images/pause.tar" }],
      },
    };
    const g = buildGuide(loadCluster(spec).cluster, en);
    const block = g.chapters
      .find((c) => c.id === "workers")!
      .blocks.find((b) => b.kind === "code" && b.caption?.startsWith("on node-1"));
    const text = block && block.kind === "code" ? block.text : "";
    expect(text).toContain(
      "# image registry.k8s.io/pause:3.10\n(\nset -- http://198.18.0.1:8080/khw-images/pause.tar",
    );
    expect(text).toMatch(/# route \S+ via 10\.10\.0\.22\n\(\nset -- /);
    // Run it with stubs: the block goes on past the image import to the route and to the end.
    const stubs = tempDir();
    try {
      // Stubs that succeed and print nothing: no image is present, every route is missing.
      for (const tool of ["curl", "install", "tar", "sha256sum", "systemctl", "ip", "ctr", "mktemp"]) {
        writeFileSync(join(stubs.dir, tool), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      }
      const r = spawnSync(
        "bash",
        ["--norc", "-e", "-c", `${text.replaceAll("/usr/local/bin/ctr", "ctr")}\necho END-OF-BLOCK`],
        {
          encoding: "utf8",
          env: { PATH: `${stubs.dir}:/usr/bin:/bin` },
          cwd: stubs.dir,
          timeout: 20_000,
        },
      );
      expect(r.stdout, r.stderr).toContain("END-OF-BLOCK");
    } finally {
      stubs.cleanup();
    }
  });
});

describe("failure modes: each is explained, and the check it names really catches it", () => {
  const guide = buildGuide(clusters.default, en);
  const cluster = clusters.default;
  const node = cluster.workers[0]!;
  const now = 1_800_000_000_000;
  const facts = (text: string, adminTimeMs = now) => parseFacts(node.name, text, adminTimeMs);
  /** Facts that make each preflight check fire. */
  const trigger: Record<string, () => string[]> = {
    "node-address": () =>
      checkHostFacts(
        cluster,
        node,
        facts(healthyFacts("10.0.2.15", now).replace(`addr=enp0s8 10.0.2.15/24`, "")),
      ).map((p) => p.check),
    clock: () =>
      checkClockSkew([
        facts(healthyFacts(node.address, now)),
        { ...facts(healthyFacts(node.address, now + 120_000)), host: "worker-2" },
      ]).map((p) => p.check),
    "cidr-overlap": () =>
      checkHostFacts(cluster, node, facts(`${healthyFacts(node.address, now)}\naddr=eth9 10.244.3.1/24`)).map(
        (p) => p.check,
      ),
    swap: () =>
      checkHostFacts(
        cluster,
        node,
        facts(healthyFacts(node.address, now).replace("swap_devices=0", "swap_devices=1")),
      ).map((p) => p.check),
  };
  const specTrigger: Record<string, () => string[]> = {
    "cidr-overlaps-nat": () =>
      specCodes({ ...defaultClusterSpecInput(), network: { podCIDR: "10.0.0.0/8" } }),
    "even-etcd-members": () => specCodes(defaultClusterSpecInput()),
  };

  for (const mode of FAILURE_MODES) {
    it(`${mode.id} (${mode.chapter})`, () => {
      const prose = en.chapters[mode.chapter].pitfalls?.[mode.id];
      expect(prose, `no text for ${mode.id}`).toBeDefined();
      expect(chapterText(guide, mode.chapter)).toContain(prose!.title);
      for (const c of mode.caughtBy) {
        if (c.kind === "preflight") {
          expect(trigger[c.check], `no trigger for preflight check ${c.check}`).toBeDefined();
          expect(trigger[c.check]!()).toContain(c.check);
          // …and healthy facts do not trip it.
          expect(
            checkHostFacts(cluster, node, facts(healthyFacts(node.address, now))).map((p) => p.check),
          ).not.toContain(c.check);
        }
        if (c.kind === "spec") expect(specTrigger[c.code]!()).toContain(c.code);
        if (c.kind === "phase") expect(PHASES.find((p) => p.name === c.phase)!.description).toBeTruthy();
      }
    });
  }

  it("the generated fixes are in khw's artifacts: IPALLOC_RANGE, the kubelet RBAC subject, --name, resolvConf", () => {
    const ctx = guideContext(cluster);
    const file = (path: string, host?: string) =>
      ctx.artifacts.files.find((f) => f.path === path && (host === undefined || f.host === host))!.contents;
    expect(ctx.artifacts.manifests.find((m) => m.phase === "network")!.contents).toContain(
      cluster.network.podCIDR,
    );
    const cn = ctx.catalogue.find((c) => c.id === "apiserver-kubelet-client")!.subject.CN;
    expect(ctx.artifacts.manifests.find((m) => m.file.includes("apiserver-to-kubelet"))!.contents).toContain(
      `name: ${cn}`,
    );
    expect(file("/etc/systemd/system/etcd.service", "master-2")).toContain("--name=master-2");
    expect(file("/var/lib/kubelet/kubelet-config.yaml", "worker-1")).toContain(
      "/run/systemd/resolve/resolv.conf",
    );
  });
});

describe("khw guide", () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });
  afterEach(() => cleanup());

  it("writes the Markdown chapters, an index and the HTML page; a second run writes the same bytes", async () => {
    writeFileSync(join(dir, "cluster.yaml"), UNUSUAL_SPEC);
    const r = await khw(dir, ["guide", "-o", "g"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("g/index.html");
    const names = readdirSync(join(dir, "g")).sort();
    expect(names).toEqual(
      [
        "index.html",
        "index.md",
        ...CHAPTER_IDS.map((id, i) => `${String(i + 1).padStart(2, "0")}-${id}.md`),
      ].sort(),
    );
    const first = readFileSync(join(dir, "g/index.html"), "utf8");
    expect(first).toMatch(/^<!doctype html>/);
    expect(first).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/[^"'\s]*\.(js|css)\b/);
    expect((await khw(dir, ["guide", "-o", "g"])).code).toBe(0);
    expect(readFileSync(join(dir, "g/index.html"), "utf8")).toBe(first);
    // Every chapter links to the next and back to the index; the index lists every chapter file.
    const index = readFileSync(join(dir, "g/index.md"), "utf8");
    for (const n of names.filter((x) => /^\d\d-/.test(x))) expect(index).toContain(`](${n})`);
  });

  it("an invalid spec: one clear error, exit 3, nothing written", async () => {
    writeFileSync(join(dir, "cluster.yaml"), UNUSUAL_SPEC.replace("172.20.0.0/16", "172.20.0.0/33"));
    const r = await khw(dir, ["guide", "-o", "g"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("podCIDR");
    expect(existsSync(join(dir, "g"))).toBe(false);
  });

  it("docs/guide is what `khw guide` writes for the default spec today (regenerate: KHW_UPDATE_DOCS=1)", () => {
    const files = renderGuideFiles(clusters.default);
    if (process.env["KHW_UPDATE_DOCS"] && !process.env["CI"]) {
      for (const [name, text] of files) writeFileSync(join(DOCS, name), text);
    }
    expect(readdirSync(DOCS).sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(DOCS, name), "utf8"), name).toBe(text);
  });
});

describe("khw explain PHASE", () => {
  it("prints the phase's chapter: why, and the manual commands for this cluster", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await khw(dir, ["explain", "etcd"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("5. The etcd cluster [etcd]");
      expect(r.stdout).toContain(
        "--initial-cluster=master-1=https://192.168.56.11:2380,master-2=https://192.168.56.12:2380",
      );
      expect(r.stdout).toContain("systemctl restart etcd");
      const rbac = await khw(dir, ["explain", "rbac"]);
      expect(rbac.stdout).toContain("TLS bootstrapping");
      expect(rbac.stdout).toContain("RBAC for kubelet authorization");
      const bad = await khw(dir, ["explain", "etc"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("unknown phase 'etc'");
      expect(bad.stderr).toContain("preflight, pki");
    } finally {
      cleanup();
    }
  });
});

describe("khw up --explain / --step", () => {
  let dir: string;
  let cleanup: () => void;
  let hosts: FakeHosts;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    const input = defaultClusterSpecInput();
    input.binaries = { source: "bundle", bundleDir: "bundle", arch: "amd64" };
    const { cluster } = loadCluster(input);
    makeFakeBundle(cluster, join(dir, "bundle"));
    writeFileSync(join(dir, "cluster.yaml"), renderClusterYaml(cluster.spec));
    hosts = new FakeHosts(cluster);
    setSeamsForTests({ ...fixedSeams(), executor: () => hosts, sleep: async () => {} });
  });
  afterEach(() => {
    resetSeamsForTests();
    cleanup();
  });

  it("--explain: each phase's explanation and commands come before its progress lines", async () => {
    const r = await khw(dir, ["up", "--explain", "--only", "preflight,pki"], { HOME: dir });
    expect(r.code, r.stderr).toBe(0);
    const why = r.stdout.indexOf("── 2. Certificate authority [pki] ──");
    expect(why).toBeGreaterThan(r.stdout.indexOf("── 1. Prerequisites [preflight] ──"));
    expect(r.stdout.indexOf("openssl genrsa -out ca.key")).toBeGreaterThan(why);
    expect(r.stdout.indexOf("\n[pki] ", why)).toBeGreaterThan(r.stdout.indexOf("openssl genrsa -out ca.key"));
  });

  it("--step without a terminal: refused with a clear message before anything is issued", async () => {
    const r = await khw(dir, ["up", "--step"], { HOME: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--step waits for Enter between phases, but standard input is not a terminal");
    expect(r.stderr).toContain("khw up --explain");
    expect(existsSync(join(dir, "pki"))).toBe(false);
  });

  it("--step on a terminal: waits for Enter before every phase but the first", async () => {
    const prompts: string[] = [];
    const said: string[] = [];
    const hook = upExplainHook(clusters.default, {
      step: true,
      explain: true,
      say: (t) => said.push(t),
      input: { isTTY: true, waitForEnter: async (p) => void prompts.push(p) },
    })!;
    for (const [i, name] of ["preflight", "pki", "etcd"].entries())
      await hook(PHASES.find((p) => p.name === name)!, i);
    expect(prompts).toHaveLength(2);
    expect(prompts[0]).toContain("next: pki");
    expect(prompts[0]).toContain("khw lab ssh HOST");
    expect(said.join("")).toContain("The etcd cluster");
    expect(upExplainHook(clusters.default, { say: () => {} })).toBeUndefined();
  });
});
