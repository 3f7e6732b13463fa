import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { commitPartial, sha256File, startPartial, writeFileAtomic } from "@khw/host-io";
import { cachedBundle, lockBundle, materialize } from "./_commit";
import type { BundleResult } from "./build";
import { bundleCacheDir, defaultBundlesDir } from "./cache";
import { BundleError } from "./errors";
import { type BundleArch, type BundleVersions, bundleLayout, bundleUrl } from "./layout";
import {
  type BundleManifest,
  createManifest,
  MANIFEST_FILE,
  parseSha256File,
  parseSha256Sums,
  renderManifest,
} from "./manifest";

/** Official downloads: the layout paths are the URLs without the scheme. */
export const OFFICIAL_BASE_URL = "https://";

export interface FetchBundleOptions extends BundleVersions {
  arch?: BundleArch;
  /** As in `buildBundle`: omitted, the cache directory is the bundle; otherwise files are linked into `out`. */
  out?: string;
  /** The directory of cached bundles (default `${XDG_CACHE_HOME:-$HOME/.cache}/khw/bundles`). */
  cacheDir?: string;
  /** `https://` (default, the official downloads) or a mirror serving the same paths, e.g. `http://198.18.0.1:8080/`. */
  baseUrl?: string;
  onLog?: (line: string) => void;
  /** Download again even when the cached bundle verifies. */
  force?: boolean;
  /** The fetch implementation (default the global one). */
  fetch?: typeof globalThis.fetch;
}

async function get(fetchFn: typeof globalThis.fetch, url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetchFn(url, { redirect: "follow" });
  } catch (cause) {
    throw new BundleError(
      "DOWNLOAD_FAILED",
      `GET ${url} failed: ${(cause as Error).message}`,
      "Without internet, prepare the bundle with `khw bundle build` (Go module proxy) or point baseUrl at a mirror.",
      { cause },
    );
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new BundleError(
      "DOWNLOAD_FAILED",
      `GET ${url} answered ${response.status} ${response.statusText}`,
      "Check the version exists, and that a mirror serves the official layout (`bundlePaths`).",
    );
  }
  return response;
}

async function getText(fetchFn: typeof globalThis.fetch, url: string): Promise<string> {
  return (await get(fetchFn, url)).text();
}

/** Streams a URL into `file`, refusing it (and deleting it) unless its SHA-256 is `expected`. */
async function download(
  fetchFn: typeof globalThis.fetch,
  url: string,
  file: string,
  expected: string,
): Promise<void> {
  const response = await get(fetchFn, url);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.download`;
  const hash = createHash("sha256");
  const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
  body.on("data", (chunk: Buffer) => hash.update(chunk));
  try {
    await pipeline(body, createWriteStream(tmp));
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new BundleError("DOWNLOAD_FAILED", `GET ${url} broke off: ${(cause as Error).message}`, "Retry.", {
      cause,
    });
  }
  const actual = hash.digest("hex");
  if (actual !== expected) {
    await rm(tmp, { force: true });
    throw new BundleError(
      "CHECKSUM_MISMATCH",
      `${url}: sha256 is ${actual}, the published checksum says ${expected}; the file was refused`,
      "The download or the mirror is corrupt or tampered with: do not use it; fetch again from a trusted source.",
    );
  }
  await rename(tmp, file);
}

/**
 * Downloads the official release binaries (or the same paths from a mirror) into the bundle layout,
 * verifying each file against its published SHA-256 (`<file>.sha256` for Kubernetes, `SHA256SUMS` for
 * etcd) before it is kept. Cached like `buildBundle`, under the same key.
 */
export async function fetchBundle(options: FetchBundleOptions): Promise<BundleResult> {
  const started = Date.now();
  const layout = bundleLayout(options);
  const log = options.onLog ?? (() => undefined);
  const fetchFn = options.fetch ?? globalThis.fetch;
  const base = options.baseUrl ?? OFFICIAL_BASE_URL;
  const cacheDir = bundleCacheDir(layout, options.cacheDir ?? defaultBundlesDir());
  const done = async (cached: boolean): Promise<BundleResult> => {
    const manifest = JSON.parse(await readFile(join(cacheDir, MANIFEST_FILE), "utf8")) as BundleManifest;
    const dir = await materialize(cacheDir, options.out, layout);
    return { dir, cacheDir, cached, layout, manifest, seconds: (Date.now() - started) / 1000 };
  };
  if (!options.force && (await cachedBundle(cacheDir, layout))) {
    log(`[bundle] cache hit: ${cacheDir}`);
    return done(true);
  }

  const unlock = await lockBundle(cacheDir, log);
  try {
    if (!options.force && (await cachedBundle(cacheDir, layout))) {
      log(`[bundle] cache hit (fetched meanwhile by another process): ${cacheDir}`);
      return await done(true);
    }
    const partial = await startPartial(cacheDir);
    try {
      const digests: Record<string, string> = {};
      for (const bin of layout.kubernetes) {
        const sumUrl = bundleUrl(base, bin.sha256Path);
        const expected = parseSha256File(await getText(fetchFn, sumUrl));
        if (expected === undefined) {
          throw new BundleError(
            "CHECKSUM_MISSING",
            `${sumUrl} is not a SHA-256 digest`,
            "The server does not serve the official layout; check baseUrl.",
          );
        }
        log(`[bundle] downloading ${bundleUrl(base, bin.path)}`);
        await download(fetchFn, bundleUrl(base, bin.path), join(partial, bin.path), expected);
        await chmod(join(partial, bin.path), 0o755);
        await writeFile(join(partial, bin.sha256Path), expected);
        digests[bin.path] = expected;
      }
      const sumsUrl = bundleUrl(base, layout.etcd.sha256sums);
      const sumsText = await getText(fetchFn, sumsUrl);
      const expected = parseSha256Sums(sumsText).get(layout.etcd.tarballName);
      if (expected === undefined) {
        throw new BundleError(
          "CHECKSUM_MISSING",
          `${sumsUrl} has no line for ${layout.etcd.tarballName}`,
          "Check the etcd version and architecture; the release must publish this tarball.",
        );
      }
      log(`[bundle] downloading ${bundleUrl(base, layout.etcd.tarball)}`);
      await download(
        fetchFn,
        bundleUrl(base, layout.etcd.tarball),
        join(partial, layout.etcd.tarball),
        expected,
      );
      await writeFile(join(partial, layout.etcd.sha256sums), sumsText);
      digests[layout.etcd.tarball] = await sha256File(join(partial, layout.etcd.tarball));
      await writeFileAtomic(
        join(partial, MANIFEST_FILE),
        renderManifest(createManifest(layout, "download", digests)),
      );
      await commitPartial(partial, cacheDir);
      log(`[bundle] fetched into ${cacheDir}`);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  } finally {
    await unlock();
  }
  return done(false);
}
