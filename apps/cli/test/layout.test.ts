// Every node path a generated unit, config or kubeconfig names is known to the node layout: a file some
// catalogue places on that host, a release file's executable, a kubeconfig of the catalogue, or one of the
// layout's directories and runtime files (NODE_DIRS, NODE_FILES of @khw/spec).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_HOST, binaryArtifacts, NODE_DIRS } from "@khw/spec";
import { servicesUsingBinary } from "@khw/systemd-units";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Artifacts, renderArtifacts } from "../src/artifacts";
import { loadSpecFile } from "../src/spec-file";
import { readWorkdir, resetSeamsForTests } from "../src/workdir";
import { UNUSUAL_SPEC, useFixedSeams } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";
import { knownAs, namedPaths } from "./layout-paths";

const artifactsOf = async (spec: string | undefined): Promise<Artifacts> => {
  const work = tempDir();
  try {
    useFixedSeams();
    if (spec !== undefined) writeFileSync(join(work.dir, "cluster.yaml"), spec);
    expect((await khw(work.dir, spec === undefined ? ["init"] : ["gen"])).code).toBe(0);
    const loaded = await loadSpecFile(work.dir, undefined, { allowDefault: true });
    if (spec === undefined) expect((await khw(work.dir, ["gen"])).code).toBe(0);
    return renderArtifacts(loaded.cluster, readWorkdir(work.dir, loaded.cluster));
  } finally {
    work.cleanup();
  }
};

let artifacts: Record<"default" | "unusual", Artifacts>;

beforeAll(async () => {
  artifacts = { default: await artifactsOf(undefined), unusual: await artifactsOf(UNUSUAL_SPEC) };
}, 120_000);

afterAll(() => resetSeamsForTests());

describe("node layout", () => {
  it("finds the paths a text names (and not URLs, hosts or relative paths)", () => {
    expect(
      namedPaths(
        "--cert=/etc/etcd/x.crt --u=https://10.0.0.1:2379/var/x unix:///run/containerd/containerd.sock a/etc/b",
      ),
    ).toEqual(["/etc/etcd/x.crt", "/run/containerd/containerd.sock"]);
  });

  for (const name of ["default", "unusual"] as const) {
    it(`every node path a generated file names is known to the layout (${name} spec)`, () => {
      const a = artifacts[name];
      const unknown: string[] = [];
      let checked = 0;
      for (const f of a.files.filter((x) => x.host !== ADMIN_HOST && !x.path.endsWith(".crt") && !x.secret)) {
        for (const p of namedPaths(f.contents)) {
          checked++;
          if (knownAs(a, f.host, p) === undefined) unknown.push(`${f.host}:${f.path} names ${p}`);
        }
      }
      expect(unknown).toEqual([]);
      expect(checked).toBeGreaterThan(50);
    });
  }

  it("a certificate a unit names but no catalogue places is caught", () => {
    const a = artifacts.default;
    const unit = a.files.find((f) => f.host === "master-1" && f.path.endsWith("/kube-apiserver.service"))!;
    const forged = unit.contents.replace(
      "--audit-log-maxage",
      `--x=${NODE_DIRS.pki}/not-issued.crt --audit-log-maxage`,
    );
    const unknown = namedPaths(forged).filter((p) => knownAs(a, "master-1", p) === undefined);
    expect(unknown).toEqual([`${NODE_DIRS.pki}/not-issued.crt`]);
    // a worker's files name its own certificate, never another worker's
    expect(knownAs(a, "worker-1", `${NODE_DIRS.pki}/worker-2.crt`)).toBeUndefined();
    expect(knownAs(a, "worker-1", `${NODE_DIRS.pki}/worker-1.crt`)).toBe("placed on the host");
  });

  for (const name of ["default", "unusual"] as const) {
    it(`a changed executable restarts the same services as the unit-text rule it replaces (${name} spec)`, () => {
      const a = artifacts[name];
      // The rule up/runner.ts used: the units on the host whose text contains the executable's path.
      const byText = (host: string, binaries: string[]) =>
        a.files
          .filter((f) => f.host === host && f.path.startsWith(`${NODE_DIRS.units}/`))
          .filter((u) => binaries.some((b) => u.contents.includes(b)))
          .map((u) => u.path.replace(/^.*\//, "").replace(/\.service$/, ""))
          .sort();
      let restarting = 0;
      for (const node of a.cluster.nodes) {
        for (const artifact of binaryArtifacts(a.cluster).filter((x) => x.roles.includes(node.role))) {
          for (const dest of Object.values(artifact.installAs)) {
            const services = servicesUsingBinary(a.cluster, node.name, [dest]).sort();
            expect(services, `${node.name}: ${dest}`).toEqual(byText(node.name, [dest]));
            restarting += services.length;
          }
        }
      }
      expect(restarting).toBeGreaterThan(5);
    });
  }

  it("HAProxy is a catalogue service: a changed haproxy.cfg or CA file restarts it", () => {
    const lb = artifacts.default.files.filter((f) => f.host === "loadbalancer");
    expect(lb.map((f) => `${f.path} ${f.phase} ${f.services.join(",")}`)).toEqual([
      "/etc/haproxy/haproxy.cfg loadbalancer haproxy",
      "/etc/haproxy/kubernetes-ca.crt loadbalancer haproxy",
    ]);
  });
});
