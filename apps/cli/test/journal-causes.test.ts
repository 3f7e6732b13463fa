// The causes khw names from a kubelet's journal, matched on lines as kubelet v1.34 prints them.
import { describe, expect, it } from "vitest";
import { causesInJournal, KUBELET_CAUSES } from "../src/up/journal-causes";

const ids = (journal: string) => causesInJournal(journal).map((c) => c.id);

describe("causesInJournal", () => {
  it("names each catalogued cause from a kubelet's own words", () => {
    expect(
      ids(
        'E1202 13:01:02.123 1 run.go:72] "command failed" err="failed to run Kubelet: inotify_init: too many open files"',
      ),
    ).toEqual(["inotify-instances"]);
    expect(
      ids(
        'E1202 kubelet.go:1612] "Failed to start ContainerManager" err="failed to create fsnotify watcher: too many open files"',
      ),
    ).toEqual(["inotify-instances"]);
    expect(
      ids(
        'E1202 run.go:72] "command failed" err="failed to run Kubelet: kubelet is configured to not run on a host using cgroup v1. cgroup v1 support is in maintenance mode"',
      ),
    ).toEqual(["cgroup-v1"]);
    expect(
      ids(
        'E1202 log.go:32] "RunPodSandbox from runtime service failed" err="rpc error: code = Unknown desc = failed to get sandbox image \\"registry.k8s.io/pause:3.10\\": failed to pull image \\"registry.k8s.io/pause:3.10\\": dial tcp: lookup registry.k8s.io: no such host"',
      ),
    ).toEqual(["image-pull"]);
    expect(
      causesInJournal(
        'E1202 "Failed to pull image" image="registry.k8s.io/pause:3.10" err=... ErrImagePull',
      )[0]?.id,
    ).toBe("image-pull");
    expect(
      ids(
        'E1202 run.go:72] "command failed" err="failed to run Kubelet: running with swap on is not supported, please disable swap"',
      ),
    ).toEqual(["swap"]);
    expect(
      ids(
        'E1202 "Container runtime network not ready" networkReady="NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"',
      ),
    ).toEqual(["cni"]);
    expect(ids('I1202 "Successfully registered node" node="worker-1"')).toEqual([]);
  });

  it("fills in what the line names, and every cause has a fix", () => {
    const [c] = causesInJournal('failed to pull image \\"khw.lab/nginx:1.22.1\\": not found');
    expect(c?.cause).toBe("an image cannot be pulled (khw.lab/nginx:1.22.1)");
    for (const k of KUBELET_CAUSES) expect(k.fix.length, k.id).toBeGreaterThan(20);
  });
});
