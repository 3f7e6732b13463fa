import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTar, sha256 as sha, sha256File } from "@khw/host-io";
import { afterAll, describe, expect, it } from "vitest";
import { imageArchive } from "./image";
import { labImages } from "./images";

const tmp = mkdtempSync(join(tmpdir(), "khw-images-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("imageArchive", () => {
  const spec = {
    ref: "registry.k8s.io/pause:3.10",
    files: [{ path: "/pause", data: Buffer.from("#!pause\n") }],
    symlinks: [{ path: "/bin/sleep", target: "toolbox" }],
    entrypoint: ["/pause"],
    user: "65535:65535",
  };

  it("writes a docker-archive: manifest.json naming the config and layer by digest, tagged with the ref", async () => {
    const a = await imageArchive(spec, join(tmp, "pause.tar"));
    expect(a.sha256).toBe(await sha256File(a.file));
    const entries = await readTar(a.file);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const manifest = JSON.parse(byPath.get("manifest.json")?.data?.toString() ?? "null");
    expect(manifest).toHaveLength(1);
    expect(manifest[0].RepoTags).toEqual(["registry.k8s.io/pause:3.10"]);
    const config = byPath.get(manifest[0].Config)?.data;
    const layer = byPath.get(manifest[0].Layers[0])?.data;
    if (!config || !layer) throw new Error("config or layer missing");
    expect(`sha256:${sha(config)}`).toBe(a.configDigest);
    expect(manifest[0].Config).toBe(`${sha(config)}.json`);
    expect(manifest[0].Layers[0]).toBe(`${sha(layer)}/layer.tar`);
    const cfg = JSON.parse(config.toString());
    expect(cfg).toMatchObject({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: ["/pause"], User: "65535:65535" },
    });
    expect(cfg.rootfs).toEqual({ type: "layers", diff_ids: [`sha256:${sha(layer)}`] });
    const files = await readTar(layer);
    expect(files.map((f) => f.path)).toEqual(["bin/", "etc/", "tmp/", "pause", "bin/sleep"]);
    expect(files.find((f) => f.path === "pause")).toMatchObject({ mode: 0o755, type: "file" });
    expect(files.find((f) => f.path === "bin/sleep")).toMatchObject({ type: "symlink", linkname: "toolbox" });
    expect(files.find((f) => f.path === "tmp/")?.mode).toBe(0o1777);
  });

  it("is deterministic", async () => {
    const a = await imageArchive(spec, join(tmp, "a.tar"));
    const b = await imageArchive(spec, join(tmp, "b.tar"));
    expect(a.sha256).toBe(b.sha256);
  });

  it("refuses references without registry or tag", async () => {
    await expect(imageArchive({ ...spec, ref: "pause" }, join(tmp, "x.tar"))).rejects.toThrow(
      /fully qualified/,
    );
    await expect(imageArchive({ ...spec, ref: "registry.k8s.io/pause" }, join(tmp, "x.tar"))).rejects.toThrow(
      /fully qualified/,
    );
  });
});

describe("labImages", () => {
  it("tags the images as khw's manifests and containerd 2.1's default sandbox name them", () => {
    const refs = Object.fromEntries(labImages().map((i) => [i.name, i.ref]));
    expect(refs).toEqual({
      pause: "registry.k8s.io/pause:3.10",
      nginx: "khw.lab/nginx:1.22.1",
      busybox: "khw.lab/busybox:1.35.0",
      coredns: "registry.k8s.io/coredns/coredns:v1.11.3",
      flannel: "khw.lab/flannel:v0.28.10",
    });
    expect(labImages().map((i) => i.file)).toEqual([
      "pause_3.10.tar",
      "nginx_1.22.1.tar",
      "busybox_1.35.0.tar",
      "coredns_coredns_v1.11.3.tar",
      "flannel_v0.28.10.tar",
    ]);
  });
});
