import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { sha256, type TarInput, writeTar } from "@khw/host-io";
import { type BundleVersions, bundleLayout } from "../src/layout";
import { createManifest, MANIFEST_FILE, renderManifest } from "../src/manifest";

/** A tiny version set nobody will ever build for real. */
export const FAKE_VERSIONS: BundleVersions = { kubernetesVersion: "v1.99.7", etcdVersion: "v3.9.1" };

/** Shell scripts that print what the real binaries print for their version command. */
export function fakeBinary(name: string, versions: BundleVersions): string {
  const etcd = versions.etcdVersion.slice(1);
  const line =
    name === "kubectl"
      ? `Client Version: ${versions.kubernetesVersion}`
      : name === "etcd"
        ? `etcd Version: ${etcd}`
        : name === "etcdctl" || name === "etcdutl"
          ? `${name} version: ${etcd}`
          : `Kubernetes ${versions.kubernetesVersion}`;
  return `#!/bin/sh\necho '${line}'\n`;
}

/**
 * Writes a fake bundle (or a fake release tree, which is the same thing) into `dir`: the official
 * layout with script "binaries", `.sha256` files and an etcd tarball listed in a multi-line SHA256SUMS.
 */
export async function writeFakeBundle(
  dir: string,
  versions: BundleVersions = FAKE_VERSIONS,
  options: { manifest?: boolean } = {},
): Promise<void> {
  const layout = bundleLayout(versions);
  const digests: Record<string, string> = {};
  for (const bin of layout.kubernetes) {
    const file = join(dir, bin.path);
    await mkdir(dirname(file), { recursive: true });
    const body = fakeBinary(bin.name, versions);
    await writeFile(file, body);
    await chmod(file, 0o755);
    digests[bin.path] = sha256(body);
    await writeFile(join(dir, bin.sha256Path), sha256(body));
  }
  const entries: TarInput[] = [{ path: `${layout.etcd.topDir}/`, mode: 0o755, type: "dir" }];
  for (const m of layout.etcd.members) {
    entries.push({
      path: m.path,
      mode: 0o755,
      data: Buffer.from(fakeBinary(m.name, versions)),
      type: "file",
    });
  }
  const tarball = await writeTar(join(dir, layout.etcd.tarball), entries, { gzip: true });
  digests[layout.etcd.tarball] = tarball.sha256;
  const other = `etcd-${versions.etcdVersion}-linux-arm64.tar.gz`;
  await writeFile(
    join(dir, layout.etcd.sha256sums),
    `${sha256("other")}  ${other}\n${tarball.sha256}  ${layout.etcd.tarballName}\n`,
  );
  if (options.manifest !== false) {
    await writeFile(
      join(dir, MANIFEST_FILE),
      renderManifest(createManifest(layout, "go-modules", digests, "go0.0")),
    );
  }
}
