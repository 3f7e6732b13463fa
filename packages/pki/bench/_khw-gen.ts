// The bench entry point: `khw gen` of the PKI alone, as its own process. Bundled (with @khw/spec and
// @khw/pki from source) by pki.bench.ts, then run as `node khw-gen.mjs <alg> <workers|default> <outDir>`.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { catalogueFromCluster, issuePki, pkiStateFiles } from "@khw/pki";
import type { KeyAlgorithm } from "@khw/spec";
import { benchCluster } from "./_clusters";

const [algorithm, workers, outDir] = process.argv.slice(2) as [KeyAlgorithm, string, string];
const cluster = benchCluster(algorithm, workers === "default" ? undefined : Number(workers));
const catalogue = catalogueFromCluster(cluster);
const material = await issuePki({ catalogue, now: new Date() });
mkdirSync(join(outDir, "pki"), { recursive: true });
for (const file of pkiStateFiles(material))
  writeFileSync(join(outDir, file.path), file.contents, { mode: file.mode });
