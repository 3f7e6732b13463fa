import { BundleError } from "./errors";
import { parseKubernetesVersion } from "./layout";

/** A `require` line of a go.mod. */
export interface GoRequire {
  path: string;
  version: string;
  indirect: boolean;
}

/** A `replace` line of a go.mod: `old [oldVersion] => new [newVersion]` (no newVersion for a local dir). */
export interface GoReplace {
  old: string;
  oldVersion?: string;
  new: string;
  newVersion?: string;
}

/** The parts of a go.mod that the bundle build needs. */
export interface GoMod {
  module: string;
  go?: string;
  toolchain?: string;
  /** `godebug` settings, e.g. `default=go1.24`. */
  godebug: string[];
  require: GoRequire[];
  replace: GoReplace[];
}

function stripComment(line: string): { text: string; comment: string } {
  const i = line.indexOf("//");
  if (i < 0) return { text: line.trim(), comment: "" };
  return { text: line.slice(0, i).trim(), comment: line.slice(i + 2).trim() };
}

function parseReplace(fields: string[], lineNo: number): GoReplace {
  const arrow = fields.indexOf("=>");
  const left = fields.slice(0, arrow);
  const right = fields.slice(arrow + 1);
  if (arrow < 1 || left.length > 2 || right.length < 1 || right.length > 2) {
    throw new BundleError(
      "GO_MOD_PARSE",
      `go.mod line ${lineNo}: malformed replace "${fields.join(" ")}"`,
      "Expected `old [version] => new [version]`; is this really a go.mod file?",
    );
  }
  const r: GoReplace = { old: left[0]!, new: right[0]! };
  if (left[1] !== undefined) r.oldVersion = left[1];
  if (right[1] !== undefined) r.newVersion = right[1];
  return r;
}

/** Parses the directives of a go.mod file that matter here (module, go, toolchain, godebug, require, replace). */
export function parseGoMod(text: string): GoMod {
  const mod: GoMod = { module: "", godebug: [], require: [], replace: [] };
  let block: string | undefined;
  const lines = text.split(/\r?\n/);
  const directive = (verb: string, fields: string[], comment: string, lineNo: number): void => {
    switch (verb) {
      case "module":
        mod.module = fields[0] ?? "";
        break;
      case "go":
        if (fields[0] !== undefined) mod.go = fields[0];
        break;
      case "toolchain":
        if (fields[0] !== undefined) mod.toolchain = fields[0];
        break;
      case "godebug":
        mod.godebug.push(...fields);
        break;
      case "require":
        if (fields.length !== 2) {
          throw new BundleError(
            "GO_MOD_PARSE",
            `go.mod line ${lineNo}: malformed require "${fields.join(" ")}"`,
            "Expected `module/path vX.Y.Z`; is this really a go.mod file?",
          );
        }
        mod.require.push({ path: fields[0]!, version: fields[1]!, indirect: comment === "indirect" });
        break;
      case "replace":
        mod.replace.push(parseReplace(fields, lineNo));
        break;
      default:
        // exclude, retract, tool, ignore: not needed to build
        break;
    }
  };
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const { text: line, comment } = stripComment(raw);
    if (line === "") return;
    if (block !== undefined) {
      if (line === ")") {
        block = undefined;
        return;
      }
      directive(block, line.split(/\s+/), comment, lineNo);
      return;
    }
    const fields = line.split(/\s+/);
    const verb = fields[0]!;
    if (fields[1] === "(" && fields.length === 2) {
      block = verb;
      return;
    }
    directive(verb, fields.slice(1), comment, lineNo);
  });
  if (block !== undefined) {
    throw new BundleError(
      "GO_MOD_PARSE",
      `go.mod: the "${block} (" block is never closed`,
      "The file looks truncated; delete the module cache entry and download it again.",
    );
  }
  if (mod.module === "") {
    throw new BundleError(
      "GO_MOD_PARSE",
      "go.mod has no module directive",
      "Pass the go.mod of k8s.io/kubernetes (from `go mod download -json k8s.io/kubernetes@vX`).",
    );
  }
  return mod;
}

/** The version of the `k8s.io/*` staging modules published with a Kubernetes release: v1.34.4 → v0.34.4. */
export function stagingVersion(kubernetesVersion: string): string {
  const { minor, patch, pre } = parseKubernetesVersion(kubernetesVersion);
  return `v0.${minor}.${patch}${pre}`;
}

/** What the temporary build module needs, derived from k8s.io/kubernetes's go.mod. */
export interface KubernetesBuildModule {
  /** The go.mod text of the temporary module. */
  goMod: string;
  /** The staging modules pinned by `replace`, sorted. */
  staging: string[];
}

/**
 * Translates the go.mod of `k8s.io/kubernetes@<v>` into the go.mod of a module that builds its commands
 * from the module proxy: every `k8s.io/X => ./staging/src/k8s.io/X` becomes `k8s.io/X => k8s.io/X v0.<minor>.<patch>`
 * (the staging modules are required as v0.0.0 and only resolvable through those replaces), and the
 * `go` and `godebug` settings are kept so the binaries behave as in the official build.
 */
export function kubernetesBuildModule(
  kubernetesGoMod: string,
  kubernetesVersion: string,
  moduleName = "khw.local/bundle/kubernetes",
): KubernetesBuildModule {
  const parsed = parseGoMod(kubernetesGoMod);
  if (parsed.module !== "k8s.io/kubernetes") {
    throw new BundleError(
      "GO_MOD_PARSE",
      `expected the go.mod of k8s.io/kubernetes, got module "${parsed.module}"`,
      "Pass the go.mod of k8s.io/kubernetes at the version you build.",
    );
  }
  const pinned = stagingVersion(kubernetesVersion);
  const staging = parsed.replace
    .filter((r) => r.newVersion === undefined && r.new.startsWith("./staging/"))
    .map((r) => r.old)
    .sort();
  if (staging.length === 0) {
    throw new BundleError(
      "GO_MOD_PARSE",
      `the go.mod of k8s.io/kubernetes ${kubernetesVersion} has no "=> ./staging/..." replace lines`,
      "This release is laid out differently from v1.34; the build needs its staging modules listed.",
    );
  }
  // Versioned replaces of k8s.io/kubernetes apply only when it is the main module: carry them over too.
  const versioned = parsed.replace.filter((r) => r.newVersion !== undefined);
  const lines = [`module ${moduleName}`, ""];
  if (parsed.go) lines.push(`go ${parsed.go}`, "");
  for (const g of parsed.godebug) lines.push(`godebug ${g}`);
  if (parsed.godebug.length > 0) lines.push("");
  lines.push(`require k8s.io/kubernetes ${kubernetesVersion}`, "", "replace (");
  for (const path of staging) lines.push(`\t${path} => ${path} ${pinned}`);
  for (const r of versioned) {
    const old = r.oldVersion ? `${r.old} ${r.oldVersion}` : r.old;
    lines.push(`\t${old} => ${r.new} ${r.newVersion}`);
  }
  lines.push(")", "");
  return { goMod: lines.join("\n"), staging };
}
