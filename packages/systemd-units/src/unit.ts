import { UnitsError } from "./errors";
import { renderExecCommand } from "./exec";

/** A typed systemd service unit: the settings khw uses, plus `extra` lines per section. */
export interface ServiceUnit {
  unit: {
    description: string;
    documentation?: string[];
    after?: string[];
    requires?: string[];
    wants?: string[];
    extra?: [string, string][];
  };
  service: {
    type?: "simple" | "exec" | "notify" | "oneshot" | "forking";
    /** argv: the absolute executable, then one element per argument (unquoted). */
    execStart: string[];
    execStartPre?: string[][];
    restart?: "no" | "on-failure" | "always" | "on-abnormal";
    restartSec?: number;
    delegate?: boolean;
    killMode?: "control-group" | "mixed" | "process" | "none";
    limitNOFILE?: number | "infinity";
    limitNPROC?: number | "infinity";
    limitCORE?: number | "infinity";
    tasksMax?: number | "infinity";
    oomScoreAdjust?: number;
    extra?: [string, string][];
  };
  install: { wantedBy: string[] };
}

const line = (key: string, value: string | number | boolean | undefined): string[] => {
  if (value === undefined) return [];
  const v = typeof value === "boolean" ? (value ? "yes" : "no") : String(value);
  if (/[\n\r]/.test(v)) {
    throw new UnitsError("INVALID_ARGUMENT", key, "holds a line break", "unit settings are single lines");
  }
  return [`${key}=${v}`];
};
const list = (key: string, values: string[] | undefined): string[] =>
  values && values.length > 0 ? line(key, values.join(" ")) : [];
const extra = (pairs: [string, string][] | undefined): string[] =>
  (pairs ?? []).flatMap(([k, v]) => line(k, v));

/** Renders a unit file: fixed section and key order, one flag per continued ExecStart line, a final newline. */
export function renderUnit(u: ServiceUnit): string {
  const s = u.service;
  const unit = [
    "[Unit]",
    ...line("Description", u.unit.description),
    ...list("Documentation", u.unit.documentation),
    ...list("After", u.unit.after),
    ...list("Requires", u.unit.requires),
    ...list("Wants", u.unit.wants),
    ...extra(u.unit.extra),
  ];
  const service = [
    "[Service]",
    ...line("Type", s.type),
    ...(s.execStartPre ?? []).map(
      (argv, i) => `ExecStartPre=${renderExecCommand(argv, `execStartPre[${i}]`)}`,
    ),
    `ExecStart=${renderExecCommand(s.execStart)}`,
    ...line("Restart", s.restart),
    ...line("RestartSec", s.restartSec),
    ...line("Delegate", s.delegate),
    ...line("KillMode", s.killMode),
    ...line("LimitNOFILE", s.limitNOFILE),
    ...line("LimitNPROC", s.limitNPROC),
    ...line("LimitCORE", s.limitCORE),
    ...line("TasksMax", s.tasksMax),
    ...line("OOMScoreAdjust", s.oomScoreAdjust),
    ...extra(s.extra),
  ];
  const install = ["[Install]", ...list("WantedBy", u.install.wantedBy)];
  return `${[unit, service, install].map((sec) => sec.join("\n")).join("\n\n")}\n`;
}

/** `--name=value` flags in the given order; `undefined` values are left out. */
export function flags(pairs: [string, string | number | boolean | undefined][]): string[] {
  return pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `--${k}=${String(v)}`);
}
