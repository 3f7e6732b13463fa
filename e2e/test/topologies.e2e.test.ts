/**
 * Topologies and access (part of `pnpm test:e2e:day2`): a single control plane with one worker and no
 * load balancer, and the default spec reached the way Vagrant users reach their VMs (`khw lab up
 * --as-vagrant`: user vagrant with passwordless sudo, one forwarded port per host on 127.0.0.1, a
 * per-machine key), so khw's sudo path (staged uploads, `sudo -n`) runs on real hosts. One lab at a time.
 * The single-control-plane lab is brought up by the built CLI (apps/cli/dist/bin.js, in processes of its
 * own), so the bundle users install runs `khw lab up` and `khw up` on real hosts too.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseClusterYaml } from "@khw/spec";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { holdLabLock, type Lab, labSkipReason, startLab, stopLab, strayTempFiles } from "./_lab";
import { scenario, summaryTable } from "./_scenario";
import { khw, onHost } from "./_support";

const SUITE = "topologies";
const unavailable = labSkipReason(SUITE);

const SINGLE = `apiVersion: khw/v1alpha1
kind: Cluster
name: single
nodes:
  - name: master-1
    role: controlplane
    address: 192.168.56.11
  - name: worker-1
    role: worker
    address: 192.168.56.21
`;

async function withLab(
  start: Parameters<typeof startLab>[0],
  fn: (lab: Lab) => Promise<void>,
): Promise<void> {
  const { lab, release } = await startLab({ ...start, lockHeld: true });
  try {
    await fn(lab);
  } finally {
    await stopLab(SUITE, lab.workdir, release);
  }
}

describe.skipIf(unavailable !== undefined)("topologies and access on a lab of real hosts", () => {
  // one lock for both labs: no other lab slips in between them
  let releaseLock: () => void = () => {};
  beforeAll(async () => {
    releaseLock = await holdLabLock(SUITE);
  });
  afterAll(() => releaseLock());

  scenario(
    SUITE,
    "1 control plane, 1 worker, no load balancer: khw lab up + khw up by the built CLI, then khw smoke",
    12,
    async () => {
      try {
        // the CLI as it ships (the bundle, not the sources): lab up and the whole bring-up
        await withLab({ suite: SUITE, spec: SINGLE, cli: "built" }, async (lab) => {
          expect(lab.hosts.lb).toBeUndefined();
          expect(lab.hosts.masters).toHaveLength(1);
          // the HA test needs 2 control planes behind a load balancer, the pod-network test (pod → pod on
          // another worker) 2 workers: could-not-run is their honest answer here
          await lab.smokePasses(["ha", "pod-network"]);
        });
      } finally {
        console.log(`e2e ${SUITE} suite (so far):\n${summaryTable()}`);
      }
    },
  );

  scenario(
    SUITE,
    "khw lab up --as-vagrant: vagrant + sudo through 127.0.0.1:27xx, khw up + khw smoke",
    12,
    async () => {
      try {
        await withLab({ suite: SUITE, labUpArgs: ["--as-vagrant"] }, async (lab) => {
          const { cluster } = parseClusterYaml(readFileSync(join(lab.workdir, "cluster.yaml"), "utf8"));
          for (const n of cluster.nodes) {
            expect(n.ssh, n.name).toMatchObject({
              host: "127.0.0.1",
              port: 2700 + Number(n.address.split(".")[3]),
              user: "vagrant",
              identityFile: `.vagrant/machines/${n.name}/virtualbox/private_key`,
            });
          }
          // khw really went through sudo: root's login is not what cluster.yaml uses, the files are root's.
          const owner = await onHost(
            lab.workdir,
            lab.hosts.masters[0]!,
            "stat -c '%U %a' /var/lib/kubernetes/pki/ca.key",
          );
          expect(owner.stdout.trim()).toBe("root 600");
          const sudoLog = await onHost(
            lab.workdir,
            lab.hosts.masters[0]!,
            "journalctl -q --no-pager -t sudo | grep -c 'USER=root' || true",
            true,
          );
          expect(Number(sudoLog.stdout.trim()), "sudo -n ran as vagrant").toBeGreaterThan(0);
          expect(await strayTempFiles(lab)).toEqual([]);
          const again = await khw(lab.workdir, ["up", "--json"]);
          expect(again.code, again.stderr).toBe(0);
          await lab.smokePasses();
        });
      } finally {
        console.log(`e2e ${SUITE} suite:\n${summaryTable()}`);
      }
    },
  );
});
