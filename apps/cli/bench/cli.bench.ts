// pnpm --filter @khw/cli bench [--runs N] [--rsa-runs N] [--node PATH]... [--bin PATH]   (part of `pnpm bench`)
//
// Whole processes, as users run them (the built CLI, dist/bin.js), interleaved run by run, medians
// of wall and CPU (user + system, the kernel's accounting through wait4) and their ratios:
// 1. start-up: `khw --version` and `khw validate` against `node -e 0` of the same Node, and the spec check
//    alone (a script importing the CLI's own chunk of @khw/spec/quick: read, parse with yaml, check), the
//    floor under `khw validate` with nothing of the CLI around it;
// 2. `khw gen` of the default cluster with ECDSA P-256 keys (PKI + every kubeconfig, unit and
//    config written) against the guide's OpenSSL command sequence and cfssl for the same
//    certificates, and `khw gen --pki-only` (the certificates into pki/, nothing rendered: the
//    work cfssl does). Every output is checked with `openssl verify` before it counts. A last row
//    times `cp -r` of khw gen's finished output into an empty directory: what writing those files
//    alone costs on this file system, with nothing computed (a floor for any tool writing them).
// 3. The same with the default spec as it is (RSA-2048 keys): the bar of ≤ 0.6× the OpenSSL
//    sequence (`--rsa-runs N`, default 5: each OpenSSL run takes seconds; 0 leaves it out).
// Each with the Node running the bench and every other Node given (`--node PATH`, repeatable, or
// KHW_BENCH_NODES="PATH PATH"): users run Node 22 and 24, whose start-up differs from Node 20's.
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type CertificateSpec, catalogueFromCluster } from "@khw/pki";
import { defaultClusterSpecInput, loadCluster, renderClusterYaml } from "@khw/spec";
import { builtCli } from "../../../packages/pki/bench/_bundle";
import { cfsslSequence, opensslSequence } from "../../../packages/pki/bench/_by-hand";

const args = process.argv.slice(2);
const runsArg = args.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(args[runsArg + 1]) : 11;
const rsaRunsArg = args.indexOf("--rsa-runs");
const RSA_RUNS = rsaRunsArg >= 0 ? Number(args[rsaRunsArg + 1]) : 5;
/** The Node binaries to time the CLI with: this one first, then every `--node PATH` and KHW_BENCH_NODES. */
const NODES = [
  process.execPath,
  ...args.flatMap((a, i) => (a === "--node" && args[i + 1] ? [args[i + 1]!] : [])),
  ...(process.env["KHW_BENCH_NODES"] ?? "").split(/\s+/).filter(Boolean),
].filter((n, i, all) => all.indexOf(n) === i);
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Job {
  name: string;
  argv: string[];
  cwd: string;
  /** Before each run, outside the clock. */
  prepare?: () => void;
  /** After each run, outside the clock: throws when the output is wrong. */
  check?: () => void;
}
interface Sample {
  wall: number;
  cpu: number;
}

/**
 * Times one process: wall from fork to exit, CPU (user + system of it and its children) from the kernel's
 * accounting (wait4's rusage), to the microsecond; /usr/bin/time rounds to 10 ms, as long as Node 22's
 * whole start-up. Python's os.wait4 is the portable way to read that rusage; its own start-up is before
 * the clock.
 */
const TIMER = `import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
sys.stderr.write("\\n%.6f %.6f\\n" % (wall, ru.ru_utime + ru.ru_stime))
sys.exit(os.waitstatus_to_exitcode(status))
`;

function timeOnce(job: Job): Sample {
  job.prepare?.();
  const r = spawnSync("python3", ["-c", TIMER, ...job.argv], {
    cwd: job.cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (r.status !== 0) throw new Error(`${job.name} failed (${r.status}):\n${r.stderr}`);
  const [wall, cpu] = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
  job.check?.();
  return { wall: wall!, cpu: cpu! };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs the jobs in turn, run by run (A B C A B C …), after one warm-up each. */
function interleaved(jobs: Job[], runs: number): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>(jobs.map((j) => [j.name, []]));
  if (runs <= 0) return out;
  for (const j of jobs) timeOnce(j);
  for (let r = 0; r < runs; r++) for (const j of jobs) out.get(j.name)!.push(timeOnce(j));
  return out;
}

/** Per-pair ratios (run r of A over run r of B), then their median: robust to drift on a busy machine. */
function ratio(a: Sample[], b: Sample[], key: keyof Sample): number {
  return median(a.map((x, i) => x[key] / Math.max(b[i]![key], 0.001)));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(widths[c]!)).join(" | ")} |`;
  return [line(rows[0]!), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)].join("\n");
}

function main(): void {
  // The bench times what users install: the built CLI (rebuilt when it or a package it bundles changed).
  const binArg = args.indexOf("--bin");
  // --bin PATH: another build of the CLI (e.g. of the base branch, for a before/after), as it is.
  const bin = binArg >= 0 ? args[binArg + 1]! : builtCli();
  const [loadAtStart] = loadavg();
  const nodes = NODES.map((path) => ({
    path,
    label: `Node ${execFileSync(path, ["-p", "process.versions.node"], { encoding: "utf8" }).trim()}`,
  }));
  if (nodes.length === 1)
    log(
      "only the Node running the bench: give others with --node PATH or KHW_BENCH_NODES (users run 22 and 24)",
    );
  const scratch = mkdtempSync(join(tmpdir(), "khw-cli-bench-"));
  try {
    const hasCfssl = spawnSync("sh", ["-c", "command -v cfssl && command -v cfssljson"]).status === 0;
    const specInput = defaultClusterSpecInput();
    const ecdsa = { ...specInput, pki: { ...specInput.pki, keyAlgorithm: "ecdsa-p256" as const } };
    const validateYaml = join(scratch, "validate.yaml");
    writeFileSync(validateYaml, renderClusterYaml(specInput));

    /** khw gen of `input` against the OpenSSL sequence and cfssl for the same certificates. */
    const genJobs = (
      label: string,
      input: typeof specInput,
    ): { jobs: Job[]; catalogue: CertificateSpec[] } => {
      const catalogue: CertificateSpec[] = catalogueFromCluster(loadCluster(input).cluster);
      const gen = join(scratch, `gen-${label}`);
      mkdirSync(gen);
      writeFileSync(join(gen, "cluster.yaml"), renderClusterYaml(input));
      const byHand = (name: string, script: (dir: string, c: CertificateSpec[]) => string): Job => {
        const dir = join(scratch, `${name}-${label}`);
        const path = join(scratch, `${name}-${label}.sh`);
        return {
          name,
          argv: ["bash", path],
          cwd: dir,
          prepare: () => {
            rmSync(dir, { recursive: true, force: true });
            mkdirSync(dir);
            writeFileSync(path, script(dir, catalogue));
          },
          check: () => verifyAll(dir, catalogue, name === "cfssl" ? "cfssl" : "openssl"),
        };
      };
      const clean = () => {
        for (const d of ["pki", "out", ".khw"]) rmSync(join(gen, d), { recursive: true, force: true });
      };
      // khw gen's output, made once, for the files-only row.
      const made = join(scratch, `made-${label}`);
      mkdirSync(made);
      writeFileSync(join(made, "cluster.yaml"), renderClusterYaml(input));
      execFileSync(nodes[0]!.path, [bin, "gen"], { cwd: made, stdio: "ignore" });
      const copy = join(scratch, `copy-${label}`);
      const jobs: Job[] = [
        ...nodes.flatMap((n) => [
          {
            name: `khw gen ${n.label}`,
            argv: [n.path, bin, "gen"],
            cwd: gen,
            prepare: clean,
            check: () => verifyAll(join(gen, "pki"), catalogue, "khw"),
          },
          {
            name: `khw gen --pki-only ${n.label}`,
            argv: [n.path, bin, "gen", "--pki-only"],
            cwd: gen,
            prepare: clean,
            check: () => verifyAll(join(gen, "pki"), catalogue, "khw"),
          },
        ]),
        byHand("openssl", opensslSequence),
        ...(hasCfssl ? [byHand("cfssl", cfsslSequence)] : []),
        {
          name: "cp -r",
          argv: ["cp", "-r", join(made, "pki"), join(made, "out"), copy],
          cwd: scratch,
          prepare: () => {
            rmSync(copy, { recursive: true, force: true });
            mkdirSync(copy);
          },
        },
      ];
      return { jobs, catalogue };
    };
    // The CLI's chunk that exports quickParseClusterYaml, imported by a script that only reads, parses and
    // checks the spec (with the compile cache on where Node has it, as khw enables it).
    const dist = join(bin, "..");
    const quickChunk = readdirSync(dist).find(
      (f) =>
        f.endsWith(".js") &&
        /export \{[^}]*\bquickParseClusterYaml\b/.test(readFileSync(join(dist, f), "utf8")),
    );
    if (!quickChunk) throw new Error(`no chunk of ${dist} exports quickParseClusterYaml`);
    const checkOnly = join(scratch, "check-only.mjs");
    writeFileSync(
      checkOnly,
      [
        'import { readFileSync } from "node:fs";',
        'import * as nodeModule from "node:module";',
        `nodeModule.enableCompileCache?.(${JSON.stringify(join(scratch, "compile-cache"))});`,
        `const { quickParseClusterYaml } = await import(${JSON.stringify(pathToFileURL(join(dist, quickChunk)).href)});`,
        'if (!quickParseClusterYaml(readFileSync(process.argv[2], "utf8"), { file: "cluster.yaml" })) process.exit(3);',
        "",
      ].join("\n"),
    );
    const startup = interleaved(
      nodes.flatMap((n) => [
        { name: `check only ${n.label}`, argv: [n.path, checkOnly, validateYaml], cwd: scratch },
        { name: `node -e 0 ${n.label}`, argv: [n.path, "-e", "0"], cwd: scratch },
        { name: `khw --version ${n.label}`, argv: [n.path, bin, "--version"], cwd: scratch },
        {
          name: `khw validate ${n.label}`,
          argv: [n.path, bin, "validate", "-f", validateYaml],
          cwd: scratch,
        },
      ]),
      RUNS,
    );
    if (!hasCfssl)
      log("cfssl/cfssljson not on PATH: the cfssl column is left out (scripts/setup.sh installs them)");
    const ec = genJobs("ecdsa", ecdsa);
    const gens = interleaved(ec.jobs, RUNS);
    const rsa = genJobs("rsa", specInput);
    const rsaGens = interleaved(rsa.jobs, RSA_RUNS);

    const fmt = (x: number) => x.toFixed(4);
    const row = (name: string, s: Sample[], base: Sample[] | undefined, baseName: string) => [
      name,
      fmt(median(s.map((x) => x.wall))),
      fmt(median(s.map((x) => x.cpu))),
      base ? `${ratio(s, base, "wall").toFixed(2)}× / ${ratio(s, base, "cpu").toFixed(2)}× ${baseName}` : "–",
    ];
    const rows = [
      ["command (whole process)", "wall s (median)", "cpu s (median)", "ratio wall / cpu"],
      ...nodes.flatMap((n) => {
        const n0 = startup.get(`node -e 0 ${n.label}`)!;
        return [
          row(`node -e 0 (${n.label})`, n0, undefined, ""),
          row(`khw --version (${n.label})`, startup.get(`khw --version ${n.label}`)!, n0, "node -e 0"),
          row(`khw validate (${n.label})`, startup.get(`khw validate ${n.label}`)!, n0, "node -e 0"),
          row(`  the spec check alone (${n.label})`, startup.get(`check only ${n.label}`)!, n0, "node -e 0"),
        ];
      }),
    ];
    const genRows = (g: Map<string, Sample[]>, label: string) => [
      ["command (whole process)", "wall s (median)", "cpu s (median)", "ratio wall / cpu"],
      row("openssl sequence", g.get("openssl")!, undefined, ""),
      ...(hasCfssl ? [row("cfssl", g.get("cfssl")!, undefined, "")] : []),
      ...nodes.flatMap((n) =>
        (["", " --pki-only"] as const).flatMap((flag) => {
          const khwGen = g.get(`khw gen${flag} ${n.label}`)!;
          return [
            row(`khw gen${flag} (${label}, ${n.label})`, khwGen, undefined, ""),
            row(`  vs openssl`, khwGen, g.get("openssl")!, "openssl"),
            ...(hasCfssl ? [row(`  vs cfssl`, khwGen, g.get("cfssl")!, "cfssl")] : []),
          ];
        }),
      ),
      row("cp -r of khw gen's output (files only)", g.get("cp -r")!, undefined, ""),
      ...(hasCfssl ? [row("  vs cfssl", g.get("cp -r")!, g.get("cfssl")!, "cfssl")] : []),
    ];
    const [l1] = loadavg();
    console.log(
      `\n## khw CLI: start-up and \`khw gen\` (${bin}, ${RUNS} interleaved runs, ${nodes.map((n) => n.label).join(", ")}, ${cpus().length} CPUs, load ${loadAtStart!.toFixed(1)} at the start, ${l1!.toFixed(1)} at the end)\n`,
    );
    console.log(table(rows));
    console.log(`\n${ec.catalogue.length} certificates, ECDSA P-256, the default cluster (${RUNS} runs):\n`);
    console.log(table(genRows(gens, "ECDSA P-256")));
    if (RSA_RUNS > 0) {
      console.log(
        `\n${rsa.catalogue.length} certificates, RSA-2048, the default spec as it is (${RSA_RUNS} runs; cluster.yaml written out):\n`,
      );
      console.log(table(genRows(rsaGens, "RSA-2048")));
    }
    console.log(
      "\nBars: khw --version ≤ 80 ms wall; khw validate ≤ 1.5× node -e 0; khw gen (ECDSA) ≤ 1.0× openssl and ≤ 1.0× cfssl; khw gen (RSA) ≤ 0.6× openssl. On a busy machine quote the CPU ratios. khw gen writes its PKI and every host's files (see the cp -r row for what writing them alone costs here); cfssl writes the certificates: khw gen --pki-only is the same work.",
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Every certificate of the catalogue verifies against the CA with openssl. */
function verifyAll(dir: string, catalogue: CertificateSpec[], tool: "khw" | "openssl" | "cfssl"): void {
  const cert = (id: string) => join(dir, tool === "cfssl" ? `${id}.pem` : `${id}.crt`);
  for (const c of catalogue) {
    const file = cert(c.id);
    if (!existsSync(file)) throw new Error(`${tool}: ${file} was not written`);
    const out = execFileSync("openssl", ["verify", "-CAfile", cert("ca"), file], { encoding: "utf8" });
    if (!out.includes(": OK")) throw new Error(`${tool}: ${c.id} does not verify: ${out}`);
    if (tool !== "khw") continue;
    if (!readFileSync(file, "utf8").includes("BEGIN CERTIFICATE"))
      throw new Error(`${file} is no certificate`);
  }
}

main();
