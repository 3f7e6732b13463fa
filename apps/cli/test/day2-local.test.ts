// Day-2 commands that need no host: diagram, kubeconfig, certs check-expiration.
// Real tools: fast-xml-parser (XML well-formedness), resvg (SVG → PNG), rsvg-convert when installed,
// kubectl (reads the written kubeconfig and loads its TLS material), openssl (expiry dates).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultClusterSpecInput, loadCluster } from "@khw/spec";
import { kubectlLoadsTls } from "@khw/test-kit/kubectl";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import { Resvg } from "@resvg/resvg-js";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { renderMermaid, renderSvg, topologyFromCluster } from "../src/day2/diagram";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { cachedKeys } from "./day2-helpers";
import { khw, tempDir } from "./helpers";

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

function clusterOf(
  nodes: { name: string; role: "controlplane" | "worker" | "loadbalancer"; address: string }[],
) {
  return loadCluster({ ...defaultClusterSpecInput(), nodes }).cluster;
}

const THREE_MASTERS = [
  { name: "cp-a", role: "controlplane" as const, address: "10.1.0.1" },
  { name: "cp-b", role: "controlplane" as const, address: "10.1.0.2" },
  { name: "cp-c", role: "controlplane" as const, address: "10.1.0.3" },
  { name: "lb", role: "loadbalancer" as const, address: "10.1.0.9" },
  { name: "w1", role: "worker" as const, address: "10.1.0.21" },
];

describe("khw diagram: the topology as data", () => {
  const t = topologyFromCluster(loadCluster(defaultClusterSpecInput()).cluster);
  const edge = (from: string, to: string) => t.edges.filter((e) => e.from === from && e.to === to);

  it("every apiserver talks to every etcd member on 2379, at the member's IP", () => {
    for (const m of ["master-1", "master-2"]) {
      for (const [e, ip] of [
        ["master-1", "192.168.56.11"],
        ["master-2", "192.168.56.12"],
      ]) {
        expect(edge(`${m}/kube-apiserver`, `${e}/etcd`)).toMatchObject([
          { kind: "etcd", port: 2379, address: `${ip}:2379` },
        ]);
      }
    }
  });
  it("etcd peers once per pair on 2380, both ways", () => {
    const peers = t.edges.filter((e) => e.kind === "peer");
    expect(peers).toEqual([
      expect.objectContaining({
        from: "master-1/etcd",
        to: "master-2/etcd",
        port: 2380,
        bidirectional: true,
      }),
    ]);
    const three = topologyFromCluster(clusterOf(THREE_MASTERS)).edges.filter((e) => e.kind === "peer");
    expect(three.map((e) => `${e.from}-${e.to}`)).toEqual([
      "cp-a/etcd-cp-b/etcd",
      "cp-a/etcd-cp-c/etcd",
      "cp-b/etcd-cp-c/etcd",
    ]);
  });
  it("the load balancer forwards :6443 to every apiserver; kubelet, kube-proxy and kubectl go through it", () => {
    expect(t.edges.filter((e) => e.kind === "lb").map((e) => `${e.to} ${e.address}`)).toEqual([
      "master-1/kube-apiserver 192.168.56.11:6443",
      "master-2/kube-apiserver 192.168.56.12:6443",
    ]);
    for (const from of [
      "admin/kubectl",
      "worker-1/kubelet",
      "worker-1/kube-proxy",
      "worker-2/kubelet",
      "worker-2/kube-proxy",
    ]) {
      expect(edge(from, "loadbalancer/haproxy")).toMatchObject([
        { kind: "api", address: "192.168.56.30:6443" },
      ]);
    }
  });
  it("controller-manager and scheduler use their own apiserver on 127.0.0.1:6443", () => {
    for (const m of ["master-1", "master-2"]) {
      for (const c of ["kube-controller-manager", "kube-scheduler"]) {
        expect(edge(`${m}/${c}`, `${m}/kube-apiserver`)).toMatchObject([
          { kind: "local", address: "127.0.0.1:6443" },
        ]);
      }
    }
    expect(t.edges.filter((e) => e.address === "127.0.0.1:6443")).toHaveLength(4);
  });
  it("without a load balancer every client talks to the only control plane", () => {
    const solo = topologyFromCluster(
      clusterOf([
        { name: "cp", role: "controlplane", address: "10.1.0.1" },
        { name: "w", role: "worker", address: "10.1.0.2" },
      ]),
    );
    expect(solo.edges.filter((e) => e.kind === "api").map((e) => `${e.from}→${e.to} ${e.address}`)).toEqual([
      "admin/kubectl→cp/kube-apiserver 10.1.0.1:6443",
      "w/kubelet→cp/kube-apiserver 10.1.0.1:6443",
      "w/kube-proxy→cp/kube-apiserver 10.1.0.1:6443",
    ]);
    expect(solo.edges.some((e) => e.kind === "peer" || e.kind === "lb")).toBe(false);
  });
});

describe("khw diagram: SVG and Mermaid", () => {
  const specs = {
    default: loadCluster(defaultClusterSpecInput()).cluster,
    three: clusterOf(THREE_MASTERS),
    solo: clusterOf([{ name: "solo", role: "controlplane", address: "10.1.0.1" }]),
  };
  for (const [name, cluster] of Object.entries(specs)) {
    it(`${name}: well-formed XML with one box per host and one arrow per connection, boxes apart`, () => {
      const t = topologyFromCluster(cluster);
      const svg = renderSvg(t);
      expect(XMLValidator.validate(svg)).toBe(true);
      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(svg);
      const root = doc.svg;
      expect(root.xmlns).toBe("http://www.w3.org/2000/svg");
      const groups = [root.g].flat().filter((g: { class?: string }) => g.class?.startsWith("host "));
      expect(groups.map((g: { id: string }) => g.id).sort()).toEqual(
        t.hosts.map((h) => `host-${h.name}`).sort(),
      );
      const paths = [root.path].flat().filter((p: { class?: string }) => p?.class?.startsWith("edge "));
      expect(
        paths
          .map((p: { "data-from": string; "data-to": string }) => `${p["data-from"]}>${p["data-to"]}`)
          .sort(),
      ).toEqual(t.edges.map((e) => `${e.from}>${e.to}`).sort());
      // host boxes inside the canvas and never overlapping
      const W = Number(root.width);
      const H = Number(root.height);
      const boxes = groups.map((g: { rect: Record<string, string> }) => {
        const r = [g.rect].flat()[0]!;
        return { x: Number(r.x), y: Number(r.y), w: Number(r.width), h: Number(r.height) };
      });
      for (const [i, a] of boxes.entries()) {
        expect(a.x).toBeGreaterThanOrEqual(0);
        expect(a.x + a.w).toBeLessThanOrEqual(W);
        expect(a.y + a.h).toBeLessThanOrEqual(H);
        for (const b of boxes.slice(i + 1)) {
          const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
          expect(apart).toBe(true);
        }
      }
      // every path coordinate on the canvas
      for (const p of paths) {
        const nums = String(p.d)
          .match(/-?\d+(\.\d+)?/g)!
          .map(Number);
        for (let k = 0; k < nums.length; k += 2) {
          expect(nums[k]!).toBeGreaterThanOrEqual(0);
          expect(nums[k]!).toBeLessThanOrEqual(W);
          expect(nums[k + 1]!).toBeGreaterThanOrEqual(0);
          expect(nums[k + 1]!).toBeLessThanOrEqual(H);
        }
      }
    });
    it(`${name}: renders to a PNG of the declared size (resvg)`, () => {
      const svg = renderSvg(topologyFromCluster(cluster));
      const png = new Resvg(svg).render();
      expect(png.width).toBeGreaterThan(600);
      const bytes = png.asPng();
      expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    });
  }
  it.skipIf(!has("rsvg-convert"))("rsvg-convert (librsvg) renders the default diagram", () => {
    const { dir, cleanup } = tempDir();
    try {
      const svgPath = join(dir, "d.svg");
      writeFileSync(svgPath, renderSvg(topologyFromCluster(specs.default)));
      execFileSync("rsvg-convert", [svgPath, "-o", join(dir, "d.png")]);
      expect(readFileSync(join(dir, "d.png")).subarray(1, 4).toString()).toBe("PNG");
    } finally {
      cleanup();
    }
  });
  it("the README's Mermaid example is what khw diagram prints for the default spec", () => {
    const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
    const block = /```mermaid\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(renderMermaid(topologyFromCluster(specs.default)));
  });
  it("Mermaid: a subgraph per host, an arrow per connection, etcd peers both ways", () => {
    const t = topologyFromCluster(specs.default);
    const text = renderMermaid(t);
    expect(text.startsWith("flowchart TB\n")).toBe(true);
    expect(text).toContain('subgraph master_1["master-1 · control plane + etcd · 192.168.56.11"]');
    expect(text).toContain('master_1_etcd <-->|":2380 peer"| master_2_etcd');
    expect(text).toContain('loadbalancer_haproxy -->|"192.168.56.12:6443"| master_2_kube_apiserver');
    expect(text).toContain('worker_2_kubelet -->|"192.168.56.30:6443"| loadbalancer_haproxy');
    const arrows = text.split("\n").filter((l) => / (-->|<-->|-\.->)\|/.test(l));
    expect(arrows).toHaveLength(t.edges.length);
    expect(text.split("\n").filter((l) => l.trim().startsWith("subgraph"))).toHaveLength(t.hosts.length);
  });
});

describe("khw diagram: the command", () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it("prints SVG, writes -o FILE, picks Mermaid from .mmd, rejects a bad --format", async () => {
    const r = await khw(dir, ["diagram"]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("<svg")).toBe(true);
    expect(r.stderr).toContain("built-in default spec");
    expect((await khw(dir, ["diagram", "-o", "out/c.svg"])).code).toBe(0);
    expect(XMLValidator.validate(readFileSync(join(dir, "out/c.svg"), "utf8"))).toBe(true);
    expect((await khw(dir, ["diagram", "-o", "c.mmd"])).code).toBe(0);
    expect(readFileSync(join(dir, "c.mmd"), "utf8")).toMatch(/^flowchart TB/);
    const bad = await khw(dir, ["diagram", "--format", "png"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--format must be svg or mermaid");
  });
  it("uses cluster.yaml when present and exits 3 on an invalid one", async () => {
    await khw(dir, ["init"]);
    writeFileSync(
      join(dir, "cluster.yaml"),
      readFileSync(join(dir, "cluster.yaml"), "utf8").replace("192.168.56.30", "192.168.56.40"),
    );
    const r = await khw(dir, ["diagram", "--format", "mermaid"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("192.168.56.40:6443");
    writeFileSync(join(dir, "cluster.yaml"), "nodes: []\n");
    expect((await khw(dir, ["diagram"])).code).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------

// kubectl v1.34.4 from the bundle (@khw/bundle's pinnedBinaries), never a machine's own; in CI a missing one fails.
const pinned = pinnedBinaries();
const KUBECTL = prerequisiteSkip(pinned.missing) === undefined ? pinned.kubectl : undefined;

function kubectlView(file: string): {
  "current-context": string;
  contexts: { name: string; context: { cluster: string; user: string } }[];
  clusters: { name: string; cluster: { server: string; "certificate-authority-data"?: string } }[];
  users: { name: string; user: { "client-certificate-data"?: string; token?: string } }[];
} {
  const out = execFileSync(KUBECTL!, ["--kubeconfig", file, "config", "view", "--raw", "-o", "json"], {
    env: { PATH: process.env["PATH"], HOME: "/nonexistent" },
  });
  return JSON.parse(out.toString());
}

describe("khw kubeconfig", () => {
  // One PKI for all tests in this block (khw gen issues it).
  let work: { dir: string; cleanup: () => void };
  beforeAll(async () => {
    work = tempDir();
    setSeamsForTests({ keys: cachedKeys });
    const r = await khw(work.dir, ["gen"]);
    expect(r.code).toBe(0);
    resetSeamsForTests();
  });
  afterAll(() => work.cleanup());
  let home: string;
  beforeEach(() => {
    home = join(work.dir, `home-${Math.random().toString(36).slice(2)}`);
    mkdirSync(home);
  });
  afterEach(() => resetSeamsForTests());

  it.skipIf(!KUBECTL)("writes ~/.kube/config (HOME from the environment) that kubectl reads", async () => {
    const r = await khw(work.dir, ["kubeconfig"], { HOME: home });
    expect(r.code).toBe(0);
    const file = join(home, ".kube", "config");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const v = kubectlView(file);
    expect(v["current-context"]).toBe("kubernetes-the-hard-way");
    expect(v.clusters[0]!.cluster.server).toBe("https://192.168.56.30:6443");
    const cert = Buffer.from(v.users[0]!.user["client-certificate-data"]!, "base64").toString();
    expect(cert).toBe(readFileSync(join(work.dir, "pki", "admin.crt"), "utf8"));
    // kubectl loads the CA, the certificate and the key: it trusts a stand-in apiserver on 127.0.0.1
    // serving khw's kube-apiserver certificate, and presents the admin certificate to it in the handshake
    const pki = (name: string) => readFileSync(join(work.dir, "pki", name), "utf8");
    const probe = await kubectlLoadsTls(
      KUBECTL!,
      file,
      { caPem: pki("ca.crt"), certPem: pki("kube-apiserver.crt"), keyPem: pki("kube-apiserver.key") },
      { PATH: process.env["PATH"], HOME: home },
    );
    expect(probe.clean, probe.stderr).toBe(true);
    expect(probe.requests.map((x) => x.clientCN)).toEqual(["admin"]);
  });

  it.skipIf(!KUBECTL)(
    "merges into an existing file: keeps other entries, backs up the old file, --no-set-current",
    async () => {
      const file = join(home, "other.yaml");
      const theirs = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: prod",
        "  cluster: {server: 'https://prod.example:443'}",
        "contexts:",
        "- name: prod",
        "  context: {cluster: prod, user: me, namespace: web}",
        "current-context: prod",
        "users:",
        "- name: me",
        "  user: {token: abc}",
        "",
      ].join("\n");
      writeFileSync(file, theirs);
      setSeamsForTests({ now: () => new Date("2026-01-02T03:04:05.678Z"), keys: cachedKeys });
      const r = await khw(work.dir, [
        "kubeconfig",
        "--kubeconfig",
        file,
        "--no-set-current",
        "--context",
        "khw-lab",
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("current context stays prod");
      expect(readFileSync(`${file}.khw-backup-20260102T030405Z`, "utf8")).toBe(theirs);
      const v = kubectlView(file);
      expect(v["current-context"]).toBe("prod");
      expect(v.contexts.map((c) => c.name).sort()).toEqual(["khw-lab", "prod"]);
      expect(v.users.find((u) => u.name === "me")!.user.token).toBe("abc");
      // a second run changes nothing and makes no second backup
      const again = await khw(work.dir, [
        "kubeconfig",
        "--kubeconfig",
        file,
        "--no-set-current",
        "--context",
        "khw-lab",
      ]);
      expect(again.stdout).toContain("nothing changed");
      expect(readdirSync(home).filter((n) => n.includes("khw-backup"))).toHaveLength(1);
      // and without --no-set-current the new context becomes current
      await khw(work.dir, ["kubeconfig", "--kubeconfig", file, "--context", "khw-lab"]);
      expect(kubectlView(file)["current-context"]).toBe("khw-lab");
    },
  );

  it("writes the first file of $KUBECONFIG", async () => {
    const a = join(home, "a.yaml");
    const b = join(home, "b.yaml");
    const r = await khw(work.dir, ["kubeconfig"], { KUBECONFIG: `${a}:${b}`, HOME: home });
    expect(r.code).toBe(0);
    expect(existsSync(a)).toBe(true);
    expect(existsSync(b)).toBe(false);
    expect(existsSync(join(home, ".kube"))).toBe(false);
  });

  it("--print writes nothing; no pki/ is a clear error", async () => {
    const r = await khw(work.dir, ["kubeconfig", "--print"], { HOME: home });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("server: https://192.168.56.30:6443");
    expect(existsSync(join(home, ".kube"))).toBe(false);
    const empty = tempDir();
    try {
      const e = await khw(empty.dir, ["kubeconfig"], { HOME: home });
      expect(e.code).toBe(1);
      expect(e.stderr).toContain("lacks ca.crt, admin.crt, admin.key");
      expect(e.stderr).toContain("khw gen");
    } finally {
      empty.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("khw certs check-expiration", () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(async () => {
    ({ dir, cleanup } = tempDir());
    setSeamsForTests({ now: () => new Date("2026-03-01T00:00:00Z"), keys: cachedKeys });
    expect((await khw(dir, ["gen"])).code).toBe(0);
  });
  afterEach(() => {
    resetSeamsForTests();
    cleanup();
  });

  it("lists every certificate with expiry, days left and signer; dates agree with openssl", async () => {
    const r = await khw(dir, ["certs", "check-expiration", "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    const ids = report.certificates.map((c: { id: string }) => c.id);
    expect(ids).toEqual([
      "ca",
      "admin",
      "kube-controller-manager",
      "kube-scheduler",
      "kube-proxy",
      "kube-apiserver",
      "apiserver-kubelet-client",
      "etcd-server",
      "service-account",
      "worker-1",
    ]);
    for (const c of report.certificates) {
      const end = execFileSync("openssl", [
        "x509",
        "-noout",
        "-enddate",
        "-in",
        join(dir, "pki", `${c.id}.crt`),
      ])
        .toString()
        .trim()
        .replace("notAfter=", "");
      expect(new Date(end).toISOString()).toBe(c.notAfter);
      expect(c.signer).toBe(c.id === "ca" ? null : "ca");
    }
    const admin = report.certificates.find((c: { id: string }) => c.id === "admin");
    expect(admin).toMatchObject({
      daysLeft: 365,
      status: "valid",
      subject: "admin",
      issuer: "KUBERNETES-CA",
    });
    const text = await khw(dir, ["certs", "check-expiration"]);
    expect(text.stdout.split("\n")[0]).toMatch(
      /^CERTIFICATE\s+EXPIRES \(UTC\)\s+DAYS LEFT\s+SIGNER\s+STATUS$/,
    );
    expect(text.stdout).toMatch(/\nkube-apiserver\s+2027-03-01T\d\d:\d\d:\d\dZ\s+365\s+ca\s+valid\n/);
  });

  it("exits 1 when one expires within --warn-days, and when they have expired", async () => {
    setSeamsForTests({ now: () => new Date("2027-02-10T00:00:00Z"), keys: cachedKeys });
    const soon = await khw(dir, ["certs", "check-expiration"]);
    expect(soon.code).toBe(1);
    expect(soon.stderr).toContain("warning: admin: expires within 30 days");
    expect(soon.stderr).toContain("khw certs renew");
    expect((await khw(dir, ["certs", "check-expiration", "--warn-days", "10"])).code).toBe(0);
    setSeamsForTests({ now: () => new Date("2027-06-01T00:00:00Z"), keys: cachedKeys });
    const late = await khw(dir, ["certs", "check-expiration", "--json"]);
    expect(late.code).toBe(1);
    const rows = JSON.parse(late.stdout).certificates;
    expect(rows.find((c: { id: string }) => c.id === "ca").status).toBe("valid");
    expect(rows.find((c: { id: string }) => c.id === "kube-proxy")).toMatchObject({ status: "expired" });
  });

  it("reports a missing certificate and one signed by another CA", async () => {
    rmSync(join(dir, "pki", "kube-proxy.crt"));
    const other = join(dir, "other");
    mkdirSync(other);
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=admin/O=system:masters",
        "-keyout",
        join(other, "admin.key"),
        "-out",
        join(dir, "pki", "admin.crt"),
        "-days",
        "300",
      ],
      { stdio: "ignore" },
    );
    const r = await khw(dir, ["certs", "check-expiration", "--json"]);
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout).certificates;
    expect(rows.find((c: { id: string }) => c.id === "kube-proxy")).toMatchObject({ status: "missing" });
    expect(rows.find((c: { id: string }) => c.id === "admin")).toMatchObject({ status: "wrong-signer" });
  });

  it("without pki/ says to run khw gen; a bad --warn-days is a usage error", async () => {
    const empty = tempDir();
    try {
      const r = await khw(empty.dir, ["certs", "check-expiration"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("no certificates");
      expect(r.stderr).toContain("khw gen");
    } finally {
      empty.cleanup();
    }
    expect((await khw(dir, ["certs", "check-expiration", "--warn-days", "soon"])).code).toBe(2);
  });
});
