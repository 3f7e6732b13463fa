import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTar, sha256File } from "@khw/host-io";
import { exists } from "./_fs";
import { run } from "./_run";
import type { BundleErrorCode } from "./errors";
import { type BundleLayout, type BundleVersions, bundleLayout } from "./layout";
import { MANIFEST_FILE, parseManifest, parseSha256File, parseSha256Sums } from "./manifest";

/** One problem found in a bundle. */
export interface BundleIssue {
  /** The layout path (or `khw-bundle.json`) the problem is about. */
  path: string;
  code: BundleErrorCode;
  message: string;
}

/** What `--version` (or `version`) of one binary printed. */
export interface BinaryVersion {
  binary: string;
  /** The first line of the output, e.g. `Kubernetes v1.34.4`. */
  output: string;
  ok: boolean;
}

export interface BundleVerification {
  ok: boolean;
  dir: string;
  issues: BundleIssue[];
  /** Filled when the binaries were run. */
  binaries: BinaryVersion[];
  /** Why the binaries were not run, when they were not. */
  notRun?: string;
}

export interface VerifyBundleOptions {
  /**
   * Run each binary's version command and check the version it prints (default true).
   * Skipped, with `notRun` saying why, when this host cannot run linux/amd64 binaries.
   */
  runBinaries?: boolean;
  /** Check `khw-bundle.json` when present (default true); `requireManifest` makes its absence an issue. */
  requireManifest?: boolean;
}

/** The version command of each binary and the line proving its version. */
function versionCheck(binary: string, layout: BundleLayout): { args: string[]; expect: string } {
  const etcd = layout.etcdVersion.slice(1);
  switch (binary) {
    case "kubectl":
      return { args: ["version", "--client"], expect: `Client Version: ${layout.kubernetesVersion}` };
    case "etcd":
      return { args: ["--version"], expect: `etcd Version: ${etcd}` };
    case "etcdctl":
      return { args: ["version"], expect: `etcdctl version: ${etcd}` };
    case "etcdutl":
      return { args: ["version"], expect: `etcdutl version: ${etcd}` };
    default:
      return { args: ["--version"], expect: `Kubernetes ${layout.kubernetesVersion}` };
  }
}

async function runVersion(path: string, binary: string, layout: BundleLayout): Promise<BinaryVersion> {
  const { args, expect } = versionCheck(binary, layout);
  try {
    const { stdout, stderr } = await run(path, args, {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: tmpdir() },
      timeoutMs: 30_000,
      code: "BUNDLE_INVALID",
    });
    const lines = `${stdout}\n${stderr}`.split("\n").map((l) => l.trim());
    const ok = lines.includes(expect);
    return { binary, output: ok ? expect : (lines.find((l) => l !== "") ?? ""), ok };
  } catch (error) {
    return { binary, output: (error as Error).message.split("\n")[0] ?? "", ok: false };
  }
}

/**
 * Checks a bundle directory against a version set: every file of the layout is there, each binary
 * matches its `.sha256`, the etcd tarball matches SHA256SUMS and holds etcd, etcdctl and etcdutl,
 * the manifest (when present) agrees, and (unless `runBinaries: false`) every binary runs and
 * prints the expected version. Never throws for a bad bundle: the issues say what is wrong.
 */
export async function verifyBundle(
  dir: string,
  versions: BundleVersions,
  options: VerifyBundleOptions = {},
): Promise<BundleVerification> {
  const layout = bundleLayout(versions);
  const issues: BundleIssue[] = [];
  const binaries: BinaryVersion[] = [];
  const digests = new Map<string, string>();

  for (const bin of layout.kubernetes) {
    const file = join(dir, bin.path);
    if (!(await exists(file))) {
      issues.push({ path: bin.path, code: "BUNDLE_INVALID", message: "missing" });
      continue;
    }
    const actual = await sha256File(file);
    digests.set(bin.path, actual);
    const expected = parseSha256File(await readFile(join(dir, bin.sha256Path), "utf8").catch(() => ""));
    if (expected === undefined) {
      issues.push({
        path: bin.sha256Path,
        code: "CHECKSUM_MISSING",
        message: "missing or not a SHA-256 digest",
      });
    } else if (expected !== actual) {
      issues.push({
        path: bin.path,
        code: "CHECKSUM_MISMATCH",
        message: `sha256 ${actual} does not match ${bin.sha256Path} (${expected})`,
      });
    }
  }

  let tarball: string | undefined;
  const tarPath = join(dir, layout.etcd.tarball);
  if (await exists(tarPath)) {
    tarball = tarPath;
    const actual = await sha256File(tarPath);
    digests.set(layout.etcd.tarball, actual);
    const sums = parseSha256Sums(await readFile(join(dir, layout.etcd.sha256sums), "utf8").catch(() => ""));
    const expected = sums.get(layout.etcd.tarballName);
    if (expected === undefined) {
      issues.push({
        path: layout.etcd.sha256sums,
        code: "CHECKSUM_MISSING",
        message: `missing, or has no line for ${layout.etcd.tarballName}`,
      });
    } else if (expected !== actual) {
      issues.push({
        path: layout.etcd.tarball,
        code: "CHECKSUM_MISMATCH",
        message: `sha256 ${actual} does not match SHA256SUMS (${expected})`,
      });
    }
  } else {
    issues.push({ path: layout.etcd.tarball, code: "BUNDLE_INVALID", message: "missing" });
  }

  let etcdFiles = new Map<string, Buffer>();
  if (tarball !== undefined) {
    try {
      etcdFiles = new Map(
        (await readTar(tarball, { gzip: true }))
          .filter((e) => e.type === "file")
          .map((e) => [e.path.replace(/^\.\//, ""), e.data]),
      );
      for (const member of layout.etcd.members) {
        if (!etcdFiles.has(member.path)) {
          issues.push({
            path: layout.etcd.tarball,
            code: "BUNDLE_INVALID",
            message: `has no ${member.path}`,
          });
        }
      }
    } catch (error) {
      issues.push({ path: layout.etcd.tarball, code: "TAR_INVALID", message: (error as Error).message });
    }
  }

  const manifestText = await readFile(join(dir, MANIFEST_FILE), "utf8").catch(() => undefined);
  if (manifestText === undefined) {
    if (options.requireManifest)
      issues.push({ path: MANIFEST_FILE, code: "BUNDLE_INVALID", message: "missing" });
  } else {
    const manifest = parseManifest(manifestText);
    if (manifest === undefined) {
      issues.push({ path: MANIFEST_FILE, code: "BUNDLE_INVALID", message: "not a khw bundle manifest" });
    } else if (
      manifest.kubernetesVersion !== layout.kubernetesVersion ||
      manifest.etcdVersion !== layout.etcdVersion ||
      manifest.arch !== layout.arch
    ) {
      issues.push({
        path: MANIFEST_FILE,
        code: "BUNDLE_INVALID",
        message: `is for Kubernetes ${manifest.kubernetesVersion}, etcd ${manifest.etcdVersion}, ${manifest.arch}`,
      });
    } else {
      for (const [path, digest] of digests) {
        if (manifest.sha256[path] !== digest) {
          issues.push({
            path,
            code: "CHECKSUM_MISMATCH",
            message: `sha256 ${digest} differs from the manifest (${manifest.sha256[path] ?? "no entry"})`,
          });
        }
      }
    }
  }

  let notRun: string | undefined;
  if (options.runBinaries === false) {
    notRun = "not asked to run the binaries";
  } else if (process.platform !== "linux" || process.arch !== "x64") {
    notRun = `this host is ${process.platform}/${process.arch}; linux/amd64 binaries cannot run here`;
  } else {
    for (const bin of layout.kubernetes) {
      if (digests.has(bin.path)) binaries.push(await runVersion(join(dir, bin.path), bin.name, layout));
    }
    if (etcdFiles.size > 0) {
      const tmp = await mkdtemp(join(tmpdir(), "khw-bundle-verify-"));
      try {
        for (const member of layout.etcd.members) {
          const data = etcdFiles.get(member.path);
          if (data === undefined) continue;
          const file = join(tmp, member.name);
          await writeFile(file, data);
          await chmod(file, 0o755);
          binaries.push(await runVersion(file, member.name, layout));
        }
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
    for (const b of binaries) {
      if (!b.ok) {
        const path = layout.kubernetes.find((k) => k.name === b.binary)?.path ?? layout.etcd.tarball;
        const { args, expect } = versionCheck(b.binary, layout);
        issues.push({
          path,
          code: "BUNDLE_INVALID",
          message: `\`${b.binary} ${args.join(" ")}\` did not print "${expect}" (got "${b.output}")`,
        });
      }
    }
  }

  const result: BundleVerification = { ok: issues.length === 0, dir, issues, binaries };
  if (notRun !== undefined) result.notRun = notRun;
  return result;
}

/** One line per issue, e.g. `dl.k8s.io/…/kubelet: CHECKSUM_MISMATCH: sha256 … does not match …`. */
export function formatBundleIssues(issues: BundleIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.code}: ${i.message}`).join("\n");
}
