// pnpm --filter @khw/pki bench [--runs N] [--scale-runs N] [--quick] [--update-readme]
//
// 1. In-process: the cost of one certificate (build + sign) with pre-made keys — khw's path vs
//    node-forge's pure-JS signing vs @peculiar/x509 (WebCrypto); key generation native vs pure JS.
// 2. Whole processes, same machine, interleaved runs, medians: the default cluster's full PKI by
//    khw (a bundled entry point, as `khw gen` runs it), by the OpenSSL command sequence of the guide,
//    and by cfssl; RSA-2048 and ECDSA P-256. Every output is checked with `openssl verify`.
// 3. Scaling: khw with 10, 100, 1000 workers, RSA-2048 and ECDSA P-256.
import "reflect-metadata";
import { execFileSync, spawnSync } from "node:child_process";
import {
  createHash,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
  sign,
  webcrypto,
} from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CertificateSpec,
  catalogueFromCluster,
  issueCertificate,
  type KeyAlgorithm,
  prepareIssuer,
} from "@khw/pki";
import { p256 } from "@noble/curves/nist";
import * as x509 from "@peculiar/x509";
import forge from "node-forge";
import { builtCli, bundleEntry } from "./_bundle";
import { cfsslSequence, opensslSequence } from "./_by-hand";
import { benchCluster } from "./_clusters";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, "..");
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const RUNS = option("runs", 7);
const SCALE_RUNS = option("scale-runs", 3);
const RSA_SCALE_RUNS = option("rsa-scale-runs", 1); // RSA keys dominate: 1000 workers is ~1000 RSA keys
const QUICK = flag("quick");

const WAIT_IDLE = option("wait-idle", 0); // seconds to wait, before each measured run, for an idle machine

function cpuTimes(): { idle: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
}

/** Idle share of the machine over the last second (0..1). */
function idleShare(): number {
  const a = cpuTimes();
  const until = Date.now() + 1000;
  while (Date.now() < until) {
    // busy-free wait: Atomics.wait blocks the thread without spinning
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, until - Date.now());
  }
  const b = cpuTimes();
  return (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

const idleSeen: number[] = [];
/** With --wait-idle N: wait up to N s for a second in which ≥ 60 % of the CPUs were idle. */
function waitForIdle(): void {
  if (WAIT_IDLE <= 0) return;
  const deadline = Date.now() + WAIT_IDLE * 1000;
  let share = idleShare();
  while (share < 0.6 && Date.now() < deadline) share = idleShare();
  idleSeen.push(share);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const s = (x: number) => (x / 1000).toFixed(2);
const log = (line: string) => process.stderr.write(`${line}\n`);

/** CPU ms (user + system, all threads of this process) — robust on a shared, busy machine. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function perOp(fn: () => void, iterations: number, warmup = Math.ceil(iterations / 10)): number {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = cpuMs();
    for (let i = 0; i < iterations; i++) fn();
    samples.push((cpuMs() - t) / iterations);
  }
  return median(samples);
}

async function perOpAsync(fn: () => Promise<unknown>, iterations: number): Promise<number> {
  for (let i = 0; i < Math.ceil(iterations / 10); i++) await fn();
  const samples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = cpuMs();
    for (let i = 0; i < iterations; i++) await fn();
    samples.push((cpuMs() - t) / iterations);
  }
  return median(samples);
}

// ---------------------------------------------------------------------------------------------
// 1. One certificate, in process

async function signingBench(): Promise<string> {
  const rows: string[][] = [];
  const now = new Date();
  for (const algorithm of ["rsa-2048", "ecdsa-p256"] as const) {
    const catalogue = catalogueFromCluster(benchCluster(algorithm));
    const caSpec = catalogue[0]!;
    const leafSpec = catalogue.find((c) => c.id === "kube-apiserver")!;
    const gen = () =>
      algorithm === "rsa-2048"
        ? generateKeyPairSync("rsa", { modulusLength: 2048 })
        : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const ca = gen();
    const leaf = gen();
    const caPem = ca.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const caCert = issueCertificate({ spec: caSpec, key: caPem, now });
    const issuer = prepareIssuer({ cert: caCert, key: ca.privateKey }); // as applyPkiPlan does, once per CA
    const label = algorithm === "rsa-2048" ? "RSA-2048" : "ECDSA P-256";
    const khw = perOp(() => issueCertificate({ spec: leafSpec, key: leaf.privateKey, issuer, now }), 200);
    const tbs = Buffer.alloc(900, 7);
    const sigOnly = perOp(() => sign("sha256", tbs, ca.privateKey), algorithm === "rsa-2048" ? 200 : 500);
    rows.push([
      `khw: node-forge encoding + native signature (${algorithm === "rsa-2048" ? "PKCS#1 v1.5" : "ECDSA, OpenSSL's random nonce"})`,
      label,
      ms(khw),
      `of which the signature ${ms(sigOnly)} ms`,
    ]);
    if (algorithm === "ecdsa-p256") {
      // What khw signed with before: deterministic (RFC 6979) but pure JS, with a costly first signature.
      const d = Buffer.from(ca.privateKey.export({ format: "jwk" }).d!, "base64url");
      const nobleSign = () =>
        p256
          .sign(createHash("sha256").update(tbs).digest(), d, { prehash: false, lowS: false })
          .toDERRawBytes();
      rows.push([
        "  for comparison: @noble/curves RFC 6979 signature alone (warm)",
        label,
        ms(perOp(nobleSign, 500)),
        "reproducible; its first signature in a process costs ~100 ms more (precomputation, JIT)",
      ]);
    }
    if (algorithm === "rsa-2048") {
      const forgeCa = forge.pki.privateKeyFromPem(
        ca.privateKey.export({ type: "pkcs1", format: "pem" }) as string,
      );
      const forgeLeafPub = forge.pki.publicKeyFromPem(
        leaf.publicKey.export({ type: "spki", format: "pem" }) as string,
      );
      const forgeCert = () => {
        const c = forge.pki.createCertificate();
        c.publicKey = forgeLeafPub;
        c.serialNumber = "01a2b3c4d5e6f708090a0b0c0d0e0f10";
        c.validity.notBefore = now;
        c.validity.notAfter = new Date(now.getTime() + 365 * 86_400_000);
        c.setSubject([
          { shortName: "CN", value: "kube-apiserver" },
          { shortName: "O", value: "Kubernetes" },
        ]);
        c.setIssuer([
          { shortName: "CN", value: "KUBERNETES-CA" },
          { shortName: "O", value: "Kubernetes" },
        ]);
        c.setExtensions([
          { name: "basicConstraints", cA: false, critical: true },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
          { name: "extKeyUsage", serverAuth: true },
          {
            name: "subjectAltName",
            altNames: [
              ...leafSpec.sans.dns.map((value) => ({ type: 2, value })),
              ...leafSpec.sans.ips.map((ip) => ({ type: 7, ip })),
            ],
          },
          { name: "subjectKeyIdentifier" },
        ]);
        c.sign(forgeCa, forge.md.sha256.create());
        return forge.pki.certificateToPem(c);
      };
      rows.push([
        "node-forge alone (pure-JS RSA signature)",
        label,
        ms(perOp(forgeCert, 10, 2)),
        "cannot sign with ECDSA at all",
      ]);
    }
    // @peculiar/x509 with WebCrypto (native signatures through Node's webcrypto)
    x509.cryptoProvider.set(webcrypto as never);
    const alg =
      algorithm === "rsa-2048"
        ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
        : { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const subtle = webcrypto.subtle;
    const der = (k: KeyObject, type: "pkcs8" | "spki") => k.export({ type, format: "der" });
    const wcCaPriv = await subtle.importKey("pkcs8", der(ca.privateKey, "pkcs8"), alg, true, ["sign"]);
    const wcCaPub = await subtle.importKey("spki", der(ca.publicKey, "spki"), alg, true, ["verify"]);
    const wcLeafPub = await subtle.importKey("spki", der(leaf.publicKey, "spki"), alg, true, ["verify"]);
    const peculiar = () =>
      x509.X509CertificateGenerator.create({
        serialNumber: "01a2b3c4d5e6f708090a0b0c0d0e0f10",
        subject: "CN=kube-apiserver, O=Kubernetes",
        issuer: "CN=KUBERNETES-CA, O=Kubernetes",
        notBefore: now,
        notAfter: new Date(now.getTime() + 365 * 86_400_000),
        signingAlgorithm: alg,
        publicKey: wcLeafPub,
        signingKey: wcCaPriv,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
            true,
          ),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension([
            ...leafSpec.sans.dns.map((value) => ({ type: "dns" as const, value })),
            ...leafSpec.sans.ips.map((value) => ({ type: "ip" as const, value })),
          ]),
        ],
      }).then(async (c) => {
        await x509.SubjectKeyIdentifierExtension.create(wcLeafPub);
        await x509.AuthorityKeyIdentifierExtension.create(wcCaPub);
        return c.toString("pem");
      });
    rows.push([
      "@peculiar/x509 2.2 (WebCrypto)",
      label,
      ms(await perOpAsync(peculiar, 100)),
      "needs reflect-metadata + tsyringe",
    ]);
  }
  // Key generation
  const nativeOne = (type: "rsa" | "ec") =>
    perOp(
      () =>
        type === "rsa"
          ? generateKeyPairSync("rsa", { modulusLength: 2048 })
          : generateKeyPairSync("ec", { namedCurve: "prime256v1" }),
      type === "rsa" ? 10 : 200,
      2,
    );
  const parallel = async (type: "rsa" | "ec", n: number) => {
    const samples: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      await Promise.all(
        Array.from(
          { length: n },
          () =>
            new Promise((res, rej) =>
              type === "rsa"
                ? generateKeyPair("rsa", { modulusLength: 2048 }, (e, p) => (e ? rej(e) : res(p)))
                : generateKeyPair("ec", { namedCurve: "prime256v1" }, (e, p) => (e ? rej(e) : res(p))),
            ),
        ),
      );
      samples.push((performance.now() - t) / n);
    }
    return median(samples);
  };
  rows.push(["key generation: native, one at a time", "RSA-2048", ms(nativeOne("rsa")), ""]);
  rows.push([
    "key generation: native, 20 at once (libuv pool over the cores)",
    "RSA-2048",
    ms(await parallel("rsa", 20)),
    "wall ms per key",
  ]);
  rows.push(["key generation: native, one at a time", "ECDSA P-256", ms(nativeOne("ec")), ""]);
  rows.push([
    "key generation: native, 200 at once",
    "ECDSA P-256",
    ms(await parallel("ec", 200)),
    "wall ms per key",
  ]);
  const forgeOptions = (forge as unknown as { options: { usePureJavaScript: boolean } }).options;
  forgeOptions.usePureJavaScript = true;
  const pure: number[] = [];
  for (let i = 0; i < (QUICK ? 1 : 3); i++) {
    const t = cpuMs();
    forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
    pure.push(cpuMs() - t);
  }
  forgeOptions.usePureJavaScript = false;
  rows.push([
    `key generation: node-forge pure JS (median of ${pure.length})`,
    "RSA-2048",
    ms(median(pure)),
    "why keys are native",
  ]);

  // Start-up: importing the certificate library in a fresh process (CPU time of that process)
  const importCost = (code: string) => {
    const samples: number[] = [];
    for (let r = 0; r < 9; r++) {
      const out = spawnSync(
        "/usr/bin/time",
        ["-f", "%U %S", process.execPath, "--input-type=module", "-e", code],
        {
          cwd: pkgDir,
          encoding: "utf8",
        },
      );
      const [u = 0, sy = 0] = out.stderr.trim().split("\n").pop()!.split(" ").map(Number);
      samples.push((u + sy) * 1000);
    }
    return median(samples);
  };
  const bare = importCost("");
  rows.push([
    "process start + `import node-forge`",
    "",
    ms(importCost('await import("node-forge")') - bare),
    `over a bare node start (${ms(bare)} ms)`,
  ]);
  rows.push([
    "process start + `import @peculiar/x509` (+ reflect-metadata)",
    "",
    ms(importCost('await import("reflect-metadata"); await import("@peculiar/x509")') - bare),
    "over a bare node start",
  ]);

  return [
    "| one certificate (kube-apiserver, 10 SANs), pre-made keys | keys | CPU ms | note |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// 2 + 3. Whole processes

/** khw: the PKI entry point; khw-cli: a full `khw gen` (every artifact) of the default spec by the built CLI users run, RSA-2048 only. */
type Tool = "khw" | "khw-cli" | "openssl" | "cfssl";

interface Job {
  tool: Tool;
  prepare: (dir: string) => { cmd: string; args: string[] };
}

interface Timing {
  /** Wall-clock ms, what the bars are about. */
  wall: number;
  /** User + system CPU ms of the process tree (from /usr/bin/time), less sensitive to a busy machine. */
  cpu: number;
}

let jobCounter = 0;
function timeJob(job: Job, scratch: string, verifyCa?: (dir: string) => void): Timing {
  const dir = join(scratch, `${job.tool}-${jobCounter++}`);
  mkdirSync(dir, { recursive: true });
  const { cmd, args: a } = job.prepare(dir);
  const timeFile = join(scratch, `time-${jobCounter}`);
  const t = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%U %S", "-o", timeFile, cmd, ...a], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const wall = performance.now() - t;
  if (r.status !== 0) throw new Error(`${job.tool} failed: ${r.stderr}`);
  const [user = 0, sys = 0] = readFileSync(timeFile, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
  verifyCa?.(dir);
  rmSync(dir, { recursive: true, force: true });
  return { wall, cpu: (user + sys) * 1000 };
}

const medianTiming = (xs: Timing[]): Timing => ({
  wall: median(xs.map((x) => x.wall)),
  cpu: median(xs.map((x) => x.cpu)),
});

function verifyOutput(tool: Tool, catalogue: CertificateSpec[]) {
  return (dir: string) => {
    const base = tool === "khw" || tool === "khw-cli" ? join(dir, "pki") : dir;
    const ext = tool === "cfssl" ? ".pem" : ".crt";
    const ca = join(base, `ca${ext}`);
    const files = catalogue.map((c) => join(base, `${c.id}${ext}`));
    const out = execFileSync("openssl", ["verify", "-CAfile", ca, ...files], { encoding: "utf8" });
    const ok = out.split("\n").filter((l) => l.endsWith(": OK")).length;
    if (ok !== files.length) throw new Error(`${tool}: only ${ok}/${files.length} certificates verify`);
  };
}

function jobsFor(
  bundle: string,
  algorithm: KeyAlgorithm,
  workers: number | undefined,
  tools: Tool[],
  cli = "",
): Job[] {
  const catalogue = catalogueFromCluster(benchCluster(algorithm, workers));
  const all: Record<Tool, Job> = {
    khw: {
      tool: "khw",
      prepare: (dir) => ({
        cmd: process.execPath,
        args: [bundle, algorithm, workers === undefined ? "default" : String(workers), dir],
      }),
    },
    "khw-cli": {
      tool: "khw-cli",
      // No cluster.yaml: the built-in default spec (RSA-2048), every artifact into out/, the PKI into pki/.
      prepare: () => ({ cmd: process.execPath, args: [cli, "gen"] }),
    },
    openssl: {
      tool: "openssl",
      prepare: (dir) => {
        writeFileSync(join(dir, "run.sh"), opensslSequence(dir, catalogue));
        return { cmd: "bash", args: ["run.sh"] };
      },
    },
    cfssl: {
      tool: "cfssl",
      prepare: (dir) => {
        writeFileSync(join(dir, "run.sh"), cfsslSequence(dir, catalogue));
        return { cmd: "bash", args: ["run.sh"] };
      },
    },
  };
  return tools.map((t) => all[t]);
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), "khw-pki-bench-"));
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      rmSync(scratch, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const lines: string[] = [];
  const checks: { bar: string; ok: boolean; detail: string }[] = [];
  try {
    const machine = `${cpus()[0]?.model.trim() ?? "?"}, ${availableParallelism()} cores, Node ${process.version}, ${execFileSync("openssl", ["version"], { encoding: "utf8" }).trim().split(" (")[0]}, cfssl ${execFileSync(
      "cfssl",
      ["version"],
      { encoding: "utf8" },
    )
      .split("\n")[0]!
      .replace(/^Version:\s*/, "")}`;
    log(`machine: ${machine}`);
    const loadStart = loadavg()[0]!.toFixed(1);
    log("signing: in process ...");
    const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
    const signing = only === "processes" ? "" : await signingBench();
    log(signing);
    if (only === "signing") {
      process.stdout.write(`${signing}\n`);
      return;
    }
    const bundle = await bundleEntry(join(scratch, "bundle"));
    const cli = builtCli();

    const whole: Record<string, Partial<Record<Tool, Timing>> & Record<"khw" | "openssl" | "cfssl", Timing>> =
      {};
    const count = catalogueFromCluster(benchCluster("rsa-2048")).length;
    for (const algorithm of ["rsa-2048", "ecdsa-p256"] as const) {
      const tools: Tool[] =
        algorithm === "rsa-2048" ? ["khw", "khw-cli", "openssl", "cfssl"] : ["khw", "openssl", "cfssl"];
      const jobs = jobsFor(bundle, algorithm, undefined, tools, cli);
      const catalogue = catalogueFromCluster(benchCluster(algorithm));
      for (const job of jobs) timeJob(job, scratch, verifyOutput(job.tool, catalogue)); // warm caches; check outputs
      const samples: Record<Tool, Timing[]> = { khw: [], "khw-cli": [], openssl: [], cfssl: [] };
      for (let r = 0; r < RUNS; r++) {
        for (const job of jobs) {
          waitForIdle();
          samples[job.tool].push(timeJob(job, scratch));
        }
      }
      whole[algorithm] = {
        khw: medianTiming(samples.khw),
        ...(samples["khw-cli"].length ? { "khw-cli": medianTiming(samples["khw-cli"]) } : {}),
        openssl: medianTiming(samples.openssl),
        cfssl: medianTiming(samples.cfssl),
      };
      log(`${algorithm}: ${JSON.stringify(whole[algorithm])}`);
      const w = whole[algorithm]!;
      log(`${algorithm}: khw (PKI) ÷ OpenSSL sequence = ${(w.khw.wall / w.openssl.wall).toFixed(2)}× (wall)`);
      if (w["khw-cli"])
        log(
          `${algorithm}: full khw gen ÷ OpenSSL sequence = ${(w["khw-cli"].wall / w.openssl.wall).toFixed(2)}× (wall)`,
        );
    }
    const R = whole["rsa-2048"]!;
    const E = whole["ecdsa-p256"]!;
    const G = R["khw-cli"]!;
    const cell = (t: Timing) => `${s(t.wall)} s (${s(t.cpu)} s)`;
    const ratio = (a: Timing, b: Timing) =>
      `**${(a.wall / b.wall).toFixed(2)}×** (${(a.cpu / b.cpu).toFixed(2)}×)`;
    lines.push(
      `Whole process, the default spec's full PKI (${count} certificates: 1 CA + ${count - 1} leaves, keys and certificates written to disk), median of ${RUNS} interleaved runs; wall clock, CPU time (user + system) in brackets:`,
      "",
      "| keys | khw | OpenSSL sequence (genrsa/ecparam + req + x509 per cert) | cfssl gencert + cfssljson | OpenSSL ÷ khw | cfssl ÷ khw |",
      "| --- | --- | --- | --- | --- | --- |",
      `| RSA-2048 | ${cell(R.khw)} | ${cell(R.openssl)} | ${cell(R.cfssl)} | ${ratio(R.openssl, R.khw)} | ${ratio(R.cfssl, R.khw)} |`,
      `| ECDSA P-256 | ${cell(E.khw)} | ${cell(E.openssl)} | ${cell(E.cfssl)} | ${ratio(E.openssl, E.khw)} | ${ratio(E.cfssl, E.khw)} |`,
      "",
      `A full \`khw gen\` of the default spec (RSA-2048; every certificate, kubeconfig, unit and config file: the built CLI, \`node apps/cli/dist/bin.js gen\`): ${cell(G)}, **${(G.wall / R.openssl.wall).toFixed(2)}×** the time of the OpenSSL sequence (bar: ≤ 0.6×; CPU ${(G.cpu / R.openssl.cpu).toFixed(2)}×). The PKI alone: ${(R.khw.wall / R.openssl.wall).toFixed(2)}×.`,
      "",
      `khw with ECDSA vs the RSA OpenSSL sequence: **${(R.openssl.wall / E.khw.wall).toFixed(1)}×** faster.`,
      "",
    );
    checks.push(
      {
        bar: "RSA: a full `khw gen` takes ≤ 0.6× the time of the OpenSSL sequence (wall)",
        ok: G.wall / R.openssl.wall <= 0.6,
        detail: `${(G.wall / R.openssl.wall).toFixed(2)}× (CPU ${(G.cpu / R.openssl.cpu).toFixed(2)}×)`,
      },
      {
        bar: "RSA: faster than cfssl",
        ok: R.cfssl.wall > R.khw.wall,
        detail: `${(R.cfssl.wall / R.khw.wall).toFixed(2)}×`,
      },
      {
        bar: "ECDSA: at least as fast as the EC OpenSSL sequence",
        ok: E.openssl.wall >= E.khw.wall,
        detail: `${(E.openssl.wall / E.khw.wall).toFixed(2)}×`,
      },
      {
        bar: "ECDSA: ≥ 5× faster than the RSA OpenSSL sequence",
        ok: R.openssl.wall / E.khw.wall >= 5,
        detail: `${(R.openssl.wall / E.khw.wall).toFixed(1)}×`,
      },
    );

    // Scaling
    const sizes = [10, 100, 1000];
    const scale: Record<string, number[]> = {};
    for (const algorithm of ["ecdsa-p256", "rsa-2048"] as const) {
      scale[algorithm] = [];
      for (const n of sizes) {
        const runs = algorithm === "rsa-2048" ? (n === 1000 && QUICK ? 0 : RSA_SCALE_RUNS) : SCALE_RUNS;
        if (runs === 0) {
          scale[algorithm]!.push(Number.NaN);
          continue;
        }
        const [job] = jobsFor(bundle, algorithm, n, ["khw"]);
        const samples: number[] = [];
        for (let r = 0; r < runs; r++) {
          const check =
            r === 0 ? verifyOutput("khw", catalogueFromCluster(benchCluster(algorithm, n))) : undefined;
          waitForIdle();
          samples.push(timeJob(job!, scratch, check).wall);
        }
        scale[algorithm]!.push(median(samples));
        log(`scale ${algorithm} ${n}: ${ms(median(samples))} ms`);
      }
    }
    const row = (alg: string, label: string) => {
      const t = scale[alg]!;
      const perWorker = (i: number, j: number) => (t[j]! - t[i]!) / (sizes[j]! - sizes[i]!);
      const fmt = (x: number) => (Number.isNaN(x) ? "–" : `${s(x)} s`);
      return `| ${label} | ${t.map(fmt).join(" | ")} | ${ms(perWorker(0, 1))} ms | ${Number.isNaN(t[2]!) ? "–" : `${ms(perWorker(1, 2))} ms`} |`;
    };
    lines.push(
      `Scaling (default control plane + N workers with kubelet certificates; whole process, median of ${SCALE_RUNS} runs for ECDSA and ${RSA_SCALE_RUNS} for RSA), keys spread over ${availableParallelism()} cores:`,
      "",
      "| keys | 10 workers | 100 workers | 1000 workers | per worker 10→100 | per worker 100→1000 |",
      "| --- | --- | --- | --- | --- | --- |",
      row("rsa-2048", "RSA-2048"),
      row("ecdsa-p256", "ECDSA P-256"),
      "",
    );
    const ec = scale["ecdsa-p256"]!;
    const slopeA = (ec[1]! - ec[0]!) / 90;
    const slopeB = (ec[2]! - ec[1]!) / 900;
    checks.push({ bar: "1000 ECDSA workers in under 3 s", ok: ec[2]! < 3000, detail: `${s(ec[2]!)} s` });
    checks.push({
      bar: "ECDSA cost grows linearly (per-worker cost 100→1000 within 2× of 10→100)",
      ok: slopeB <= 2 * slopeA && slopeB >= slopeA / 2,
      detail: `${ms(slopeA)} vs ${ms(slopeB)} ms/worker`,
    });
    const rsa = scale["rsa-2048"]!;
    if (!Number.isNaN(rsa[2]!)) {
      const a = (rsa[1]! - rsa[0]!) / 90;
      const b = (rsa[2]! - rsa[1]!) / 900;
      checks.push({
        bar: "RSA cost grows linearly (same test)",
        ok: b <= 2 * a && b >= a / 2,
        detail: `${ms(a)} vs ${ms(b)} ms/worker`,
      });
    }
    const sig = /khw: .*\| RSA-2048 \| ([\d.]+) \|/.exec(signing);
    if (sig)
      checks.push({
        bar: "signing ≤ 2 ms per certificate (RSA-2048, build + sign)",
        ok: Number(sig[1]) <= 2,
        detail: `${sig[1]} ms`,
      });

    const bars = [
      "| bar | met | measured |",
      "| --- | --- | --- |",
      ...checks.map((c) => `| ${c.bar} | ${c.ok ? "yes" : "**no**"} | ${c.detail} |`),
      "",
    ];
    const idle = idleSeen.length
      ? `; idle CPU share in the second before each measured run: median ${(median(idleSeen) * 100).toFixed(0)} %`
      : "";
    const load = `load average ${loadStart} at the start, ${loadavg()[0]!.toFixed(1)} at the end${idle}`;
    const results = [
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}; ${load}.`,
      "",
      ...lines,
      ...bars,
    ].join("\n");
    process.stdout.write(`\n${signing}\n${results}\n`);
    if (flag("update-readme")) {
      const readmePath = join(pkgDir, "README.md");
      let readme = readFileSync(readmePath, "utf8");
      readme = readme.replace(
        /<!-- bench:signing -->[\s\S]*?(?=\n\nnode-forge's own)/,
        `<!-- bench:signing -->\n\n${signing.trimEnd()}`,
      );
      readme = readme.replace(
        /<!-- bench:results -->[\s\S]*?(?=\n## Tests)/,
        `<!-- bench:results -->\n\n${results.trimEnd()}\n`,
      );
      writeFileSync(readmePath, readme);
      log("README.md updated");
    }
    if (checks.some((c) => !c.ok)) process.exitCode = 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
