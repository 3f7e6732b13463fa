import { relative, resolve } from "node:path";
import { ADMIN_HOST, formatIssues } from "@khw/spec/core";
import type { Command } from "commander";
import type { Artifacts } from "../artifacts";
import { settlePendingSignals } from "../fs-atomic";
import { colors, type Io } from "../io";
import { type LoadedSpec, loadSpecFile } from "../spec-file";
import { syncWorkdir, type WorkdirState } from "../workdir";

export interface GenResult {
  loaded: LoadedSpec;
  workdir: WorkdirState;
  artifacts: Artifacts;
}

/**
 * Loads the spec (or the built-in default), brings the working directory's PKI and secrets in line
 * and renders every artifact. Shared by `khw gen` and `khw up`; prints what it issued and why.
 */
export async function prepareArtifacts(
  io: Io,
  file: string | undefined,
  say: (text: string) => void = io.stdout,
): Promise<GenResult> {
  const { loaded, workdir } = await preparePki(io, file, say);
  // The renderers (units, kubeconfigs, HAProxy, the add-on manifests) load only when files are rendered.
  const { renderArtifacts } = await import("../artifacts");
  const artifacts = renderArtifacts(loaded.cluster, workdir);
  return { loaded, workdir, artifacts };
}

/**
 * Loads the spec (or the built-in default) and brings the working directory's PKI and secrets (pki/) in
 * line with it; prints what it issued and why. What `khw gen --pki-only` does, and the first half of
 * prepareArtifacts.
 */
async function preparePki(
  io: Io,
  file: string | undefined,
  say: (text: string) => void,
): Promise<Omit<GenResult, "artifacts">> {
  const c = colors(io);
  const loaded = await loadSpecFile(io.cwd, file, { allowDefault: true });
  if (loaded.file === undefined) {
    io.stderr(
      `${c.yellow("note:")} no cluster.yaml in ${io.cwd}: using the built-in default spec (the Vagrant lab; \`khw init\` writes it out to edit)\n`,
    );
  }
  if (loaded.warnings.length) io.stderr(`${c.yellow(formatIssues(loaded.warnings, loaded.displayName))}\n`);
  const workdir = await syncWorkdir(loaded.baseDir, loaded.cluster);
  await settlePendingSignals(); // a Ctrl-C during the pki/ writes stops here, before anything else
  const pkiRel = relative(io.cwd, workdir.paths.pki) || ".";
  const r = workdir.report;
  const issued = r.decisions.filter((d) => d.action === "issue");
  if (issued.length > 0) {
    say(
      `pki: issued ${issued.length} certificate(s) into ${pkiRel}/: ${issued.map((d) => d.id).join(", ")}\n`,
    );
  }
  for (const d of r.decisions.filter((d) => d.action === "reissue")) {
    say(`pki: re-issued ${d.id}: ${d.reasons.map((x) => x.message).join("; ")}\n`);
  }
  if (issued.length === 0 && r.reissued.length === 0) {
    say(`pki: ${r.decisions.length} certificates in ${pkiRel}/ are up to date\n`);
  }
  for (const w of r.warnings)
    io.stderr(`${c.yellow("warning:")} ${w.message}\n  ${c.dim("fix:")} ${w.hint}\n`);
  if (r.encryptionKeyCreated) say(`encryption: new aescbc key in ${pkiRel}/encryption-key\n`);
  if (r.bootstrapTokenCreated) say(`bootstrap token: new token in ${pkiRel}/bootstrap-token\n`);
  else if (r.bootstrapTokenRenewed) {
    say(`bootstrap token: expiry moved to ${workdir.bootstrapTokenExpires} (less than an hour was left)\n`);
  }
  return { loaded, workdir };
}

export function registerGen(program: Command, io: Io): void {
  program
    .command("gen")
    .description(
      "Render every certificate, kubeconfig, unit and config into DIR/<host>/<path> (and DIR/admin/); keeps the PKI in pki/",
    )
    .option("-f, --file <file>", "the cluster spec (default: ./cluster.yaml, else the built-in default)")
    .option("-o, --output <dir>", "output directory", "out")
    .option(
      "--pki-only",
      "only bring pki/ in line with the spec (the CA, every certificate, the encryption key, the bootstrap token); render nothing into the output directory",
      false,
    )
    .action(async (opts: { file?: string; output: string; pkiOnly: boolean }) => {
      const c = colors(io);
      if (opts.pkiOnly) {
        const { workdir } = await preparePki(io, opts.file, io.stdout);
        const pkiRel = relative(io.cwd, workdir.paths.pki) || ".";
        io.stdout(
          `next: \`khw gen\` renders the kubeconfigs, units and configs from ${pkiRel}/ into out/<host>/\n`,
        );
        return;
      }
      const { artifacts } = await prepareArtifacts(io, opts.file);
      const { writeArtifactTree } = await import("../artifacts");
      const out = resolve(io.cwd, opts.output);
      const outRel = relative(io.cwd, out) || ".";
      const result = writeArtifactTree(out, artifacts.files);
      await settlePendingSignals(); // a Ctrl-C during the writes ends the run here, every file complete
      const hosts = [...artifacts.cluster.nodes.map((n) => n.name), ADMIN_HOST];
      const width = Math.max(...hosts.map((h) => h.length));
      io.stdout(
        `${c.green("✓")} ${outRel}/: ${artifacts.files.length} files, ${result.written.length} written, ${result.unchanged.length} unchanged${result.removed.length ? `, ${result.removed.length} removed` : ""}\n`,
      );
      for (const h of hosts) {
        const files = artifacts.files.filter((f) => f.host === h);
        if (files.length === 0) continue;
        const secret = files.filter((f) => f.secret).length;
        const role = artifacts.cluster.nodes.find((n) => n.name === h)?.role ?? "kept on the admin machine";
        io.stdout(
          `  ${h.padEnd(width)}  ${String(files.length).padStart(3)} files${secret ? `, ${secret} secret (0600)` : ""}  ${c.dim(role)}\n`,
        );
      }
      for (const rel of result.removed)
        io.stdout(`  removed ${outRel}/${rel} (no longer generated by this spec)\n`);
      io.stdout(
        "next: `khw up --dry-run` shows what would change on the hosts, `khw up` brings the cluster up\n",
      );
    });
}
