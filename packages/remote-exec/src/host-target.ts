/**
 * Where and how to reach one host. `name` is the host's name in the cluster (it names the host in
 * every result, log line and error); `host` is what to connect to (IP or DNS name).
 */
export interface HostTarget {
  /** The host's name in the cluster spec (e.g. `controller-0`). Unique within a run. */
  name: string;
  /** IP address or DNS name to connect to. Behind `jump`, resolved by the jump host. */
  host: string;
  /** SSH port, default 22. */
  port?: number | undefined;
  /** Login user. `root` runs commands directly; any other user gets `sudo -n` when `sudo` is asked for. */
  user: string;
  /** Path of a private key file (OpenSSH or PEM format). Read when connecting; never logged. */
  identityFile?: string | undefined;
  /** A private key itself (takes precedence over identityFile). Never logged. */
  privateKey?: string | Buffer | undefined;
  /** Passphrase of an encrypted private key. Never logged. */
  passphrase?: string | undefined;
  /** Path of an ssh-agent socket (pass `process.env.SSH_AUTH_SOCK` explicitly to use the agent). */
  agent?: string | undefined;
  /** Connect through this bastion (`ssh -J`): TCP to `host:port` is opened from the jump host. */
  jump?: JumpTarget | undefined;
}

/** A bastion: same fields as a host, without its own jump. `name` defaults to `jump:<host>`. */
export type JumpTarget = Omit<HostTarget, "name" | "jump"> & { name?: string | undefined };

export const DEFAULT_SSH_PORT = 22;

/** `user@host:port` (plus ` via <jump>`) — the address part of messages. Never contains secrets. */
export function hostAddress(target: Omit<HostTarget, "name"> & { name?: string | undefined }): string {
  const port = target.port ?? DEFAULT_SSH_PORT;
  const base = `${target.user}@${formatHostPort(target.host, port)}`;
  return target.jump ? `${base} via ${hostAddress(target.jump)}` : base;
}

function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Whether commands for this target need `sudo -n` to run as root. */
export function needsSudo(target: Pick<HostTarget, "user">): boolean {
  return target.user !== "root";
}
