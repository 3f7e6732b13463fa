import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLabImages } from "./build";
import { defaultCacheRoot } from "./cache";
import { imageArchive } from "./image";
import { labImages } from "./images";

/**
 * A real containerd (the offline bundle's, else one on PATH) in a private mount namespace with its own root,
 * state and socket under /tmp: `ctr -n k8s.io images import --no-unpack` of an image this package writes.
 * Nothing is mounted on the machine and no container runs.
 */
function findContainerdTarball(): string | undefined {
  const env = process.env["KHW_CONTAINERD_TARBALL"];
  if (env) return env;
  const bundles = join(defaultCacheRoot(), "bundles");
  if (!existsSync(bundles)) return undefined;
  for (const b of readdirSync(bundles)) {
    const dl = join(bundles, b, "github.com/containerd/containerd/releases/download");
    if (!existsSync(dl)) continue;
    for (const v of readdirSync(dl)) {
      const f = join(dl, v, `containerd-${v.replace(/^v/, "")}-linux-amd64.tar.gz`);
      if (existsSync(f)) return f;
    }
  }
  return undefined;
}

const has = (cmd: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

const tarball = findContainerdTarball();
const skipReason =
  process.platform !== "linux"
    ? "containerd runs on Linux only"
    : process.getuid?.() !== 0
      ? "containerd needs root"
      : !has("unshare")
        ? "unshare (util-linux) is missing"
        : !tarball && !(has("containerd") && has("ctr"))
          ? "no containerd: build the offline bundle (khw bundle build) or install containerd"
          : undefined;

if (skipReason && process.env["CI"])
  throw new Error(`ctr import test prerequisite missing in CI: ${skipReason}`);

describe.skipIf(skipReason !== undefined)(
  `ctr imports the image tarballs${skipReason ? ` (skipped: ${skipReason})` : ""}`,
  () => {
    let dir = "";
    let bin = "";
    let pid = 0;
    const ctr = (...args: string[]) =>
      execFileSync(join(bin, "ctr"), ["--address", join(dir, "c.sock"), "-n", "k8s.io", ...args], {
        encoding: "utf8",
        timeout: 30_000,
      });

    beforeAll(async () => {
      dir = mkdtempSync("/tmp/khwctr-");
      if (tarball) {
        execFileSync("tar", ["-xzf", tarball, "-C", dir]);
        bin = join(dir, "bin");
      } else {
        bin = execFileSync("sh", ["-c", "dirname $(command -v containerd)"], { encoding: "utf8" }).trim();
      }
      const disabled = [
        "io.containerd.grpc.v1.cri",
        "io.containerd.cri.v1.runtime",
        "io.containerd.cri.v1.images",
        "io.containerd.snapshotter.v1.btrfs",
        "io.containerd.snapshotter.v1.zfs",
        "io.containerd.snapshotter.v1.devmapper",
        "io.containerd.snapshotter.v1.erofs",
        "io.containerd.monitor.task.v1.cgroups",
        "io.containerd.nri.v1.nri",
      ];
      writeFileSync(
        join(dir, "config.toml"),
        [
          "version = 3",
          `root = ${JSON.stringify(join(dir, "root"))}`,
          `state = ${JSON.stringify(join(dir, "state"))}`,
          `disabled_plugins = ${JSON.stringify(disabled)}`,
          "[grpc]",
          `  address = ${JSON.stringify(join(dir, "c.sock"))}`,
          "[ttrpc]",
          `  address = ${JSON.stringify(join(dir, "c.sock.ttrpc"))}`,
          "[debug]",
          '  address = ""',
          "[metrics]",
          '  address = ""',
          "",
        ].join("\n"),
      );
      const child = spawn(
        "unshare",
        [
          "--mount",
          "--propagation",
          "private",
          join(bin, "containerd"),
          "--config",
          join(dir, "config.toml"),
        ],
        { stdio: "ignore" },
      );
      pid = child.pid ?? 0;
      for (let i = 0; i < 100 && !existsSync(join(dir, "c.sock")); i++)
        await new Promise((r) => setTimeout(r, 100));
      ctr("version");
    }, 60_000);

    afterAll(async () => {
      if (pid > 0) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          // gone
        }
        for (let i = 0; i < 50; i++) {
          try {
            process.kill(pid, 0);
            await new Promise((r) => setTimeout(r, 100));
          } catch {
            break;
          }
        }
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("imports a docker-archive written by imageArchive under its reference and config digest", async () => {
      const ref = "registry.k8s.io/khw-test/tiny:1.0";
      const a = await imageArchive(
        {
          ref,
          files: [{ path: "/hello", data: Buffer.from("#!/bin/sh\necho hello\n") }],
          entrypoint: ["/hello"],
        },
        join(dir, "tiny.tar"),
      );
      ctr("images", "import", "--no-unpack", join(dir, "tiny.tar"));
      expect(ctr("images", "ls", "-q").split("\n")).toContain(ref);
      const content = ctr("content", "ls", "-q");
      expect(content).toContain(a.configDigest);
      expect(content).toContain(a.layerDigest);
    });

    // KHW_IMAGES_DIR, else buildLabImages' own output (its cache when warm; in CI a build, as the e2e needs it anyway)
    it("imports every lab image (KHW_IMAGES_DIR, else what buildLabImages writes)", async () => {
      let dirBuilt = process.env["KHW_IMAGES_DIR"];
      if (!dirBuilt) {
        dirBuilt = join(dir, "lab-images");
        await buildLabImages({ outDir: dirBuilt });
      }
      for (const f of readdirSync(dirBuilt).filter((n) => n.endsWith(".tar"))) {
        ctr("images", "import", "--no-unpack", join(dirBuilt, f));
      }
      const refs = ctr("images", "ls", "-q").split("\n");
      expect(refs).toEqual(expect.arrayContaining(labImages().map((i) => i.ref)));
    }, 1_800_000);
  },
);
