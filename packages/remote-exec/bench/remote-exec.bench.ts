// pnpm --filter @khw/remote-exec bench
// One real sshd on 127.0.0.1 (clean environment, /bin/sh login shell), measured in one run against
// the OpenSSH client a user would use instead:
//   - 100 sequential commands: @khw/remote-exec over one session vs 100 separate `ssh host true`
//     processes vs `ssh` reusing one ControlMaster connection;
//   - a 100 MB upload: SshExecutor.upload (idempotency check + atomic rename) vs `sftp put`.
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateKey, makeTempDir, startSshd } from "@khw/test-kit/sshd";
import { type HostTarget, SshExecutor } from "../src/index.js";

const execFileP = promisify(execFile);
const COMMANDS = 100;
const UPLOAD_MB = 100;
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 3);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const ms = (x: number): string => `${x.toFixed(0)} ms`;

/** CPU ms of the children from POSIX `times` output (second line: "0m0.29s 0m0.10s"). */
function parseTimes(out: string): number {
  const line = out.trim().split("\n").at(-1) ?? "";
  let total = 0;
  for (const m of line.matchAll(/(\d+)m([\d.]+)s/g)) total += Number(m[1]) * 60_000 + Number(m[2]) * 1000;
  return total;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function main(): Promise<void> {
  const dir = await makeTempDir("khw-bench-");
  const key = await generateKey(dir, "client");
  const sshd = await startSshd({ authorizedKeys: [key.publicKey], config: ["MaxSessions 50"] });
  const knownHosts = join(dir, "known_hosts");
  await writeFile(knownHosts, `${sshd.knownHostsLines().join("\n")}\n`);
  const control = join(dir, "cm.sock");
  const sshBase = [
    "-F",
    "/dev/null",
    "-i",
    key.privateKeyPath,
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-p",
    String(sshd.port),
  ];
  const target = "root@127.0.0.1";
  const host: HostTarget = {
    name: "bench",
    host: sshd.host,
    port: sshd.port,
    user: "root",
    identityFile: key.privateKeyPath,
  };
  const ssh = (args: string[]) => execFileP("ssh", [...sshBase, ...args], { maxBuffer: 1 << 20 });
  let masterStarted = false;
  try {
    console.log(`sshd ${sshd.host}:${sshd.port}, ${ROUNDS} rounds each, medians; node ${process.version}`);
    console.log(spawnSync("ssh", ["-V"]).stderr.toString().trim());

    // --- 100 sequential commands -------------------------------------------------------------
    const ours: number[] = [];
    const separate: number[] = [];
    const master: number[] = [];
    const ex = new SshExecutor({ knownHostsFile: knownHosts });
    await ex.exec(host, ["true"]); // connect once; the session is reused, as in `khw up`
    await ssh([
      "-o",
      "ControlMaster=yes",
      "-o",
      `ControlPath=${control}`,
      "-o",
      "ControlPersist=300",
      "-f",
      "-N",
      target,
    ]);
    masterStarted = true;
    await ssh(["-o", `ControlPath=${control}`, target, "true"]);
    for (let round = 0; round < ROUNDS; round++) {
      ours.push(
        await time(async () => {
          for (let i = 0; i < COMMANDS; i++) await ex.exec(host, ["true"]);
        }),
      );
      master.push(
        await time(async () => {
          for (let i = 0; i < COMMANDS; i++) await ssh(["-o", `ControlPath=${control}`, target, "true"]);
        }),
      );
      separate.push(
        await time(async () => {
          for (let i = 0; i < COMMANDS; i++)
            await ssh(["-o", "ControlMaster=no", "-o", "ControlPath=none", target, "true"]);
        }),
      );
    }

    // --- 100 MB upload -------------------------------------------------------------------------
    const local = join(dir, "payload.bin");
    await writeFile(local, randomBytes(UPLOAD_MB * 1024 * 1024));
    const destOurs = join(dir, "dest", "ours.bin");
    const destSftp = join(dir, "dest", "sftp.bin");
    await execFileP("mkdir", ["-p", join(dir, "dest")]);
    const batch = join(dir, "sftp.batch");
    await writeFile(batch, `put ${local} ${destSftp}\n`);
    const up: number[] = [];
    const upSync: number[] = [];
    const cpuOurs: number[] = [];
    const cpuSftp: number[] = [];
    const sftpFresh: number[] = [];
    const sftpMaster: number[] = [];
    const exSync = new SshExecutor({ knownHostsFile: knownHosts, fsync: true });
    await exSync.exec(host, ["true"]);
    const sftpArgs = (extra: string[]) => [
      "-F",
      "/dev/null",
      "-i",
      key.privateKeyPath,
      "-o",
      `UserKnownHostsFile=${knownHosts}`,
      "-o",
      "BatchMode=yes",
      "-P",
      String(sshd.port),
      ...extra,
      "-b",
      batch,
      target,
    ];
    for (let round = 0; round < ROUNDS; round++) {
      await rm(destOurs, { force: true });
      const cpu0 = process.cpuUsage();
      up.push(
        await time(async () => {
          const r = await ex.upload(host, { path: destOurs, localFile: local, mode: 0o644 });
          if (!r.changed) throw new Error("upload should have changed the file");
        }),
      );
      const cpu = process.cpuUsage(cpu0);
      cpuOurs.push((cpu.user + cpu.system) / 1000);
      await rm(destOurs, { force: true });
      upSync.push(await time(() => exSync.upload(host, { path: destOurs, localFile: local, mode: 0o644 })));
      await rm(destSftp, { force: true });
      let childCpu = 0;
      sftpFresh.push(
        await time(async () => {
          // `times` (POSIX sh) reports the CPU its children used: the sftp client and its ssh.
          const { stdout } = await execFileP("sh", [
            "-c",
            'sftp "$@" >/dev/null || exit 1; times',
            "sh",
            ...sftpArgs([]),
          ]);
          childCpu = parseTimes(stdout);
        }),
      );
      cpuSftp.push(childCpu);
      await rm(destSftp, { force: true });
      sftpMaster.push(await time(() => execFileP("sftp", sftpArgs(["-o", `ControlPath=${control}`]))));
    }
    const unchangedRuns: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      unchangedRuns.push(
        await time(async () => {
          const r = await ex.upload(host, { path: destOurs, localFile: local, mode: 0o644 });
          if (r.changed) throw new Error("second upload should be unchanged");
        }),
      );
    }
    const unchanged = median(unchangedRuns);
    await ex.close();
    await exSync.close();

    const o = median(ours);
    const s = median(separate);
    const m = median(master);
    const u = median(up);
    const us = median(upSync);
    const sf = median(sftpFresh);
    const sm = median(sftpMaster);
    const co = median(cpuOurs);
    const cs = median(cpuSftp);
    const rows: Array<[string, string, string]> = [
      [`${COMMANDS} commands, @khw/remote-exec (one session)`, ms(o), `${(o / COMMANDS).toFixed(2)} ms/cmd`],
      [`${COMMANDS} commands, separate \`ssh host true\``, ms(s), `×${(s / o).toFixed(1)} slower (bar ≥ 20)`],
      [
        `${COMMANDS} commands, \`ssh\` over one ControlMaster`,
        ms(m),
        `×${(m / o).toFixed(2)} slower (bar ≥ 1.5)`,
      ],
      [
        `upload ${UPLOAD_MB} MB, @khw/remote-exec (atomic, default)`,
        ms(u),
        `${((UPLOAD_MB / u) * 1000).toFixed(0)} MB/s`,
      ],
      [
        `upload ${UPLOAD_MB} MB, @khw/remote-exec (fsync: true)`,
        ms(us),
        `${((UPLOAD_MB / us) * 1000).toFixed(0)} MB/s`,
      ],
      [
        `upload ${UPLOAD_MB} MB, \`sftp put\` (new connection)`,
        ms(sf),
        `×${(sf / u).toFixed(2)} of ours (bar ≥ 1)`,
      ],
      [
        `upload ${UPLOAD_MB} MB, \`sftp put\` over the ControlMaster`,
        ms(sm),
        `×${(sm / u).toFixed(2)} of ours`,
      ],
      [`upload ${UPLOAD_MB} MB again, unchanged (sha256 compare only)`, ms(unchanged), ""],
      [`client CPU per ${UPLOAD_MB} MB upload: @khw/remote-exec / sftp+ssh`, `${ms(co)} / ${ms(cs)}`, ""],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log("");
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w)}  ${b.padStart(9)}  ${c}`);
    console.log("");
    console.log(
      `ratios: vs separate ssh ×${(s / o).toFixed(1)} (bar 20), vs ControlMaster ×${(m / o).toFixed(2)} (bar 1.5), ` +
        `upload vs sftp ×${(sf / u).toFixed(2)} (bar 1.0)`,
    );
    const ok = s / o >= 20 && m / o >= 1.5 && sf / u >= 1;
    console.log(ok ? "all bars met" : "BARS NOT MET");
  } finally {
    if (masterStarted)
      await ssh(["-o", `ControlPath=${control}`, "-O", "exit", target]).catch(() => undefined);
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
