import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { STEP_HANDLERS } from "../src/up/steps";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { FakeHosts, writeBundleSpec } from "./golden/fake-hosts";
import { fixedSeams } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
let hosts: FakeHosts;
let env: Record<string, string>;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  env = { XDG_CACHE_HOME: join(dir, "cache"), HOME: dir };
  hosts = new FakeHosts(writeBundleSpec(dir)).readiness();
  setSeamsForTests({ ...fixedSeams(), executor: () => hosts, sleep: async () => {} });
});
afterEach(() => {
  vi.restoreAllMocks();
  resetSeamsForTests();
  cleanup();
});

const kinds = Object.keys(STEP_HANDLERS) as Array<keyof typeof STEP_HANDLERS>;

describe("the step handlers (up/steps)", () => {
  it("--dry-run probes every kind of step of the default bring-up and never acts", async () => {
    const probed = kinds.map((k) => vi.spyOn(STEP_HANDLERS[k], "probe"));
    const acted = kinds.map((k) => vi.spyOn(STEP_HANDLERS[k], "act"));
    const dry = await khw(dir, ["up", "--dry-run"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(kinds.filter((_, i) => probed[i]!.mock.calls.length === 0)).toEqual([]);
    expect(acted.reduce((n, s) => n + s.mock.calls.length, 0)).toBe(0);
    expect(hosts.changesSince(0)).toEqual([]);
    // the real run acts on what each probe saw
    const real = await khw(dir, ["up"], env);
    expect(real.code, real.stderr).toBe(0);
    expect(kinds.filter((_, i) => acted[i]!.mock.calls.length === 0)).toEqual([]);
  });

  it("a script step is not run when its probe finds nothing to do (haproxy installed)", async () => {
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    const from = hosts.recorder.ops.length;
    expect((await khw(dir, ["up", "--only", "loadbalancer"], env)).stdout).toContain("converged: no changes");
    const scripts = hosts.recorder.ops.slice(from).flatMap((op) => (op.kind === "shell" ? [op.script] : []));
    expect(scripts.filter((s) => s.startsWith("{ command -v haproxy"))).toHaveLength(1);
    expect(scripts.filter((s) => s.includes("apt-get"))).toEqual([]);
  });

  it("a release file already in the host's cache (an install stopped half-way) is installed from there, not sent again", async () => {
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    // the host's record of the kubelet install is gone: the check no longer says `installed`
    const record = [...hosts.installed.keys()].find((k) => k === "worker-1//var/lib/khw/installed/kubelet");
    expect(record).toBeDefined();
    hosts.installed.delete(record!);
    const from = hosts.recorder.ops.length;
    const r = await khw(dir, ["up", "--only", "workers"], env);
    expect(r.code, r.stderr).toBe(0);
    const ops = hosts.recorder.ops.slice(from).filter((op) => op.kind !== "close" && op.host === "worker-1");
    expect(ops.filter((op) => op.kind === "upload" && op.path.startsWith("/var/cache/khw/"))).toEqual([]);
    const installs = ops.flatMap((op) =>
      op.kind === "shell" && op.script.startsWith("set -eu\nsrc=") ? [op.args[1]] : [],
    );
    expect(installs).toEqual(["/var/lib/khw/installed/kubelet"]);
    expect(hosts.installed.has(record!)).toBe(true);
  });
});
