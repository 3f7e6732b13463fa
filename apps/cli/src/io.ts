import pc from "picocolors";

/** Everything a command may touch of the outside world besides files: injected, so tests run in-process. */
export interface Io {
  cwd: string;
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTTY: boolean;
  /** `-v, --v=N` of the command line (0 when not given); set by main before a command runs. */
  verbosity?: number;
}

export function processIo(): Io {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: Boolean(process.stdout.isTTY),
  };
}

/** Colors, off when NO_COLOR is set (any value) or output is not a terminal, unless FORCE_COLOR. */
export function colors(io: Io) {
  const noColor = io.env["NO_COLOR"] !== undefined && io.env["NO_COLOR"] !== "";
  const force = io.env["FORCE_COLOR"] !== undefined && io.env["FORCE_COLOR"] !== "0";
  return pc.createColors(!noColor && (force || io.isTTY));
}
