import { readFileSync, statSync } from "node:fs";
import { parseClusterYaml } from "@khw/spec";
import { parseDocument } from "yaml";
import { CliError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";

/**
 * The spec text with `versions.kubernetes` set to `version`, everything else (comments, order, quoting)
 * as written. Checked by parsing the result as a spec again: what comes out must load.
 */
export function withKubernetesVersion(text: string, version: string, file: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new CliError("SPEC_UPDATE", `${file}: not valid YAML (${doc.errors[0]!.message})`, "fix the file");
  }
  doc.setIn(["versions", "kubernetes"], version);
  const out = doc.toString();
  const loaded = parseClusterYaml(out, { file });
  if (loaded.spec.versions.kubernetes !== version) {
    throw new CliError(
      "SPEC_UPDATE",
      `${file}: versions.kubernetes did not become ${version} (a bug in khw)`,
      `set versions.kubernetes: ${version} in ${file} by hand`,
    );
  }
  return out;
}

/** Rewrites the spec file in place (atomically, same mode) with the new Kubernetes version. */
export function updateSpecVersion(path: string, version: string, displayName: string): boolean {
  const text = readFileSync(path, "utf8");
  const out = withKubernetesVersion(text, version, displayName);
  if (out === text) return false;
  writeFileAtomic(path, out, statSync(path).mode & 0o777);
  return true;
}
