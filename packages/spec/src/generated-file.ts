/** One file a generator produces for one host. Every generator in khw returns these. */
export interface GeneratedFile {
  /** A node name, or `admin` for what stays on the admin machine. */
  host: string;
  /** Absolute path on that host, e.g. `/etc/systemd/system/etcd.service`. */
  path: string;
  /** File mode, e.g. 0o644; private keys, tokens and the encryption config 0o600. */
  mode: number;
  contents: string;
  /** Private keys, tokens, encryption keys: never shown in diffs or logs. */
  secret?: boolean;
}

/** The host name under which files that stay with the admin are filed. */
export const ADMIN_HOST = "admin";
