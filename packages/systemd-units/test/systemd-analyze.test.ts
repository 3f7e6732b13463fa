// Every generated unit through the real `systemd-analyze verify` (Debian's systemd 252), inside a temporary
// root that holds the stock units (so targets resolve), our units, and stub executables at the paths the
// units name. PID 1 is not systemd here; verify --root needs none.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Cluster } from "@khw/spec";
import { afterAll, describe, expect, it } from "vitest";
import { binariesForNode, renderUnit, UNIT_DIR, unitFilesFromCluster } from "../src/index";
import { defaultCluster, KEY, singleMasterCluster, TRICKY, unusualCluster } from "./_fixtures";

const STOCK_UNITS = "/usr/lib/systemd/system";
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A root with the stock units, the node's units and a stub for each binary (minus `omit`). */
function makeRoot(
  files: { path: string; contents: string }[],
  binaries: string[],
  omit: string[] = [],
): string {
  const root = mkdtempSync(join(tmpdir(), "khw-verify-"));
  roots.push(root);
  cpSync(STOCK_UNITS, join(root, STOCK_UNITS), { recursive: true });
  for (const f of files) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.contents);
  }
  for (const b of binaries.filter((x) => !omit.includes(x))) {
    mkdirSync(dirname(join(root, b)), { recursive: true });
    writeFileSync(join(root, b), "#!/bin/sh\nexit 0\n");
    chmodSync(join(root, b), 0o755);
  }
  return root;
}

function verify(root: string, units: string[]) {
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", `--root=${root}`, ...units], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

const clusters: [string, () => Cluster][] = [
  ["default", defaultCluster],
  ["unusual", unusualCluster],
  ["single master", singleMasterCluster],
];

describe.each(clusters)("systemd-analyze verify, %s spec", (_n, make) => {
  it("accepts every unit of every node without a warning", () => {
    const c = make();
    const all = unitFilesFromCluster(c, { encryptionKey: KEY });
    for (const n of c.nodes.filter((x) => x.role !== "loadbalancer")) {
      const files = all.filter((f) => f.host === n.name);
      const units = files
        .filter((f) => f.path.startsWith(`${UNIT_DIR}/`))
        .map((f) => f.path.slice(UNIT_DIR.length + 1));
      expect(units.length).toBeGreaterThan(0);
      const r = verify(makeRoot(files, binariesForNode(c, n.name)), units);
      expect(r.out, `${n.name}: ${units.join(" ")}`).toBe("");
      expect(r.status).toBe(0);
    }
  });
});

describe("systemd-analyze verify catches what it should (the check can fail)", () => {
  it("a unit whose binary is missing", () => {
    const c = defaultCluster();
    const files = unitFilesFromCluster(c, { encryptionKey: KEY }).filter((f) => f.host === "worker-1");
    const r = verify(makeRoot(files, binariesForNode(c, "worker-1"), ["/usr/local/bin/kubelet"]), [
      "kubelet.service",
    ]);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("/usr/local/bin/kubelet is not executable");
  });

  it("a hand-broken quote and an unknown escape", () => {
    const bad =
      '[Unit]\nDescription=x\n\n[Service]\nExecStart=/usr/local/bin/etcd \\\n    "--a=b\n\n[Install]\nWantedBy=multi-user.target\n';
    expect(
      verify(makeRoot([{ path: `${UNIT_DIR}/bad.service`, contents: bad }], ["/usr/local/bin/etcd"]), [
        "bad.service",
      ]).out,
    ).toMatch(/Unbalanced quoting/);
    const esc = bad.replace('"--a=b', "--a=\\q");
    expect(
      verify(makeRoot([{ path: `${UNIT_DIR}/esc.service`, contents: esc }], ["/usr/local/bin/etcd"]), [
        "esc.service",
      ]).out,
    ).toMatch(/escape/);
  });

  it("accepts the tricky arguments exactly as rendered (no quoting or escape warnings)", () => {
    const unit = renderUnit({
      unit: { description: "tricky arguments" },
      service: { execStart: ["/usr/local/bin/tool", ...TRICKY], restart: "on-failure", restartSec: 5 },
      install: { wantedBy: ["multi-user.target"] },
    });
    const r = verify(
      makeRoot([{ path: `${UNIT_DIR}/tricky.service`, contents: unit }], ["/usr/local/bin/tool"]),
      ["tricky.service"],
    );
    expect(r.out).toBe("");
    expect(r.status).toBe(0);
  });
});
