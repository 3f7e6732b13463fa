import { bundleCacheDir, defaultBundlesDir } from "@khw/bundle";
import {
  isLabError,
  LAB_ONLY_SETTINGS,
  type LabSpecInput,
  labDown,
  labSsh,
  labStartHost,
  labStatus,
  labStopHost,
  labUp,
  prepareLabImages,
} from "@khw/lab";
import { ClusterSpecSchema, defaultClusterSpecInput } from "@khw/spec";
import type { Command } from "commander";
import { CliError, EXIT } from "../errors";
import { colors, type Io } from "../io";
import { loadSpecFile } from "../spec-file";

/** Library errors of the lab already say step, host and fix: pass them through as one CLI error. */
async function labAction<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isLabError(e)) throw new CliError(e.code, e.message);
    throw e;
  }
}

export function registerLab(program: Command, io: Io): void {
  const lab = program
    .command("lab")
    .description(
      "The whole cluster on this Linux machine: one systemd-nspawn host per node (real systemd, real SSH) on a private bridge (198.18.0.0/24)",
    );

  lab
    .command("up")
    .description("Boot one host per node of the spec and write cluster.yaml + known_hosts pointing at them")
    .option(
      "-f, --file <spec>",
      "take the topology (and versions, network, …) from this spec; default: the built-in default spec",
    )
    .option("--force", "overwrite an existing, different cluster.yaml", false)
    .option(
      "--mirror-dir <dir>",
      "bundle directory the lab's mirror serves (default: the cached bundle of the spec's versions)",
    )
    .option(
      "--no-images",
      "do not build the lab's container images into <mirror-dir>/khw-images (the workers then import none)",
    )
    .option(
      "--raise-limits",
      "raise the machine's inotify limits (fs.inotify.max_user_*) to what the lab needs instead of refusing to boot",
      false,
    )
    .option(
      "--as-vagrant",
      "khw reaches each host as Vagrant users reach their VMs: user vagrant (passwordless sudo) on 127.0.0.1:27xx with a key in .vagrant/machines/<name>/virtualbox/private_key",
      false,
    )
    .option("--name <lab>", "the lab's name (bridge khw-<name>); default khw")
    .option("--json", "print the result as JSON", false)
    .action(
      async (opts: {
        name?: string;
        file?: string;
        force: boolean;
        mirrorDir?: string;
        images: boolean;
        json: boolean;
        raiseLimits: boolean;
        asVagrant: boolean;
      }) => {
        const c = colors(io);
        const spec = opts.file
          ? (await loadSpecFile(io.cwd, opts.file, { allowDefault: false })).spec
          : defaultClusterSpecInput();
        const versions = ClusterSpecSchema.shape.versions.parse(spec.versions ?? {});
        const mirrorDir =
          opts.mirrorDir ??
          bundleCacheDir(
            { kubernetesVersion: versions.kubernetes, etcdVersion: versions.etcd },
            defaultBundlesDir(io.env),
          );
        // The lab has no registry: its images (pause, nginx, busybox, CoreDNS, flannel) are built offline into
        // the directory the mirror serves, and cluster.yaml lists them for the workers' image import.
        if (opts.images) {
          try {
            const im = await prepareLabImages({
              mirrorDir,
              onLog: (l) => {
                if (!opts.json) io.stderr(`${c.dim(l)}\n`);
              },
            });
            if (!opts.json) io.stderr(`${c.dim(`[images] ${im.images} image tarballs in ${im.dir}`)}\n`);
          } catch (e) {
            // Without them the lab still comes up; pods just cannot start (no image).
            io.stderr(
              `${c.yellow("!")} the lab's images could not be built (${e instanceof Error ? e.message : String(e)}): the workers import none\n`,
            );
          }
        }
        const r = await labAction(() =>
          labUp({
            workdir: io.cwd,
            spec: spec as LabSpecInput,
            force: opts.force,
            mirrorDir,
            raiseLimits: opts.raiseLimits,
            ...(opts.name ? { labName: opts.name } : {}),
            asVagrant: opts.asVagrant,
            onLog: (l) => {
              if (!opts.json) io.stderr(`${c.dim(l)}\n`);
            },
          }),
        );
        if (opts.json) {
          io.stdout(`${JSON.stringify(r)}\n`);
          return;
        }
        io.stdout(
          `${c.green("✓")} lab "${r.labName}" ${r.started ? "is up" : "was already up"}: ${r.hosts.map((h) => `${h.name} ${h.address}`).join(", ")}\n` +
            `  wrote ${r.clusterYaml} and ${r.knownHostsFile}; mirror ${r.mirrorUrl}\n` +
            `  lab-only settings (in this cluster.yaml only, never khw's defaults):\n${LAB_ONLY_SETTINGS.map((x) => `    ${x.field}: ${x.value}\n      ${c.dim(x.why)}\n`).join("")}` +
            "  next: khw up\n",
        );
      },
    );

  lab
    .command("down")
    .description("Stop every lab host and remove its mounts, cgroups, bridge and mirror (also after a crash)")
    .option("--name <lab>", "the lab's name (default: the one in this directory)")
    .action(async (opts: { name?: string }) => {
      const r = await labAction(() =>
        labDown({
          workdir: io.cwd,
          ...(opts.name ? { labName: opts.name } : {}),
          onLog: (l) => io.stderr(`${l}\n`),
        }),
      );
      io.stdout(
        `lab "${r.labName}" is down: ${r.stoppedHosts.length} hosts stopped${r.killedHosts.length ? ` (${r.killedHosts.length} killed after the timeout: ${r.killedHosts.join(", ")})` : ""}, ${r.unmounted.length} mounts and ${r.removedCgroups.length} cgroups removed${r.bridgeRemoved ? ", bridge removed" : ""}${r.mirrorStopped ? ", mirror stopped" : ""} (${r.seconds.toFixed(1)} s)\n`,
      );
    });

  lab
    .command("stop")
    .description(
      "Power one lab host off (like `machinectl poweroff`: its systemd shuts down); its disk stays for `khw lab start`",
    )
    .argument("<host>", "a node name (worker-1) or its lab address")
    .action(async (host: string) => {
      const r = await labAction(() => labStopHost({ host, workdir: io.cwd }));
      io.stdout(
        r.changed ? `${r.host} stopped (${r.seconds.toFixed(1)} s)\n` : `${r.host} was not running\n`,
      );
    });

  lab
    .command("start")
    .description("Boot a stopped lab host again (same disk, address and SSH host keys) and wait for its sshd")
    .argument("<host>", "a node name (worker-1) or its lab address")
    .action(async (host: string) => {
      const r = await labAction(() => labStartHost({ host, workdir: io.cwd }));
      io.stdout(
        r.changed
          ? `${r.host} started, sshd answers (${r.seconds.toFixed(1)} s)\n`
          : `${r.host} is already running\n`,
      );
    });

  lab
    .command("status")
    .description("Which lab hosts run, answer SSH, and how much memory they use")
    .option("--json", "print as JSON", false)
    .action(async (opts: { json: boolean }) => {
      const s = await labAction(() => labStatus({ workdir: io.cwd }));
      if (opts.json) {
        io.stdout(`${JSON.stringify(s)}\n`);
        return;
      }
      io.stdout(`lab "${s.labName}": ${s.state}\n`);
      for (const h of s.hosts) {
        io.stdout(
          `  ${h.name.padEnd(14)} ${h.address.padEnd(14)} ${h.running ? "running" : "stopped"}  ssh ${h.sshReady ? "ok" : "no"}  ${(h.memoryBytes / 1048576).toFixed(0)} MiB\n`,
        );
      }
      if (s.mirror)
        io.stdout(`  mirror ${s.mirror.url} ${s.mirror.running ? "running" : "stopped"} (${s.mirror.dir})\n`);
      if (s.state !== "running") throw new CliError("LAB_NOT_RUNNING", "", undefined, EXIT.failure);
    });

  lab
    .command("ssh")
    .description(
      "A shell on a lab host, or `khw lab ssh HOST -- CMD…` to run one command (exits with its code)",
    )
    .argument("<host>", "a node name (master-1) or its lab address")
    .argument("[command...]", "the command to run")
    .action(async (host: string, command: string[]) => {
      const code = await labAction(() =>
        labSsh({ host, workdir: io.cwd, ...(command.length ? { argv: command } : {}) }),
      );
      if (code !== 0) throw new CliError("REMOTE_EXIT", "", undefined, code);
    });
}
