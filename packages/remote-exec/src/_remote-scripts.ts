// POSIX sh scripts run on the host with `sh -c SCRIPT khw ARGS...`: data only ever arrives as
// positional parameters, never interpolated into the script text.

/**
 * Before an upload: make sure the directory exists, drop temp files an interrupted upload of the same
 * path left behind, and describe the current file: `meta SIZE MODE OWNER GROUP`, plus `sha HEX` when
 * the size equals the new content's (hashing a file of another size would be wasted work).
 * Args: path, new size, mkdirs (1/0).
 */
export const PRECHECK_SCRIPT = `p=$1 want=$2
d=\${p%/*}; [ -n "$d" ] || d=/
b=\${p##*/}
if [ ! -d "$d" ]; then
  if [ "$3" != 1 ]; then echo "directory $d does not exist" >&2; exit 3; fi
  mkdir -p -m 0755 -- "$d" || exit 3
fi
rm -f -- "$d/.$b".khw-* 2>/dev/null
if [ -f "$p" ] && [ ! -L "$p" ]; then
  m=$(stat -c '%s %a %U %G' -- "$p") || exit 4
  echo "meta $m"
  if [ "\${m%% *}" = "$want" ]; then
    h=$(sha256sum < "$p") || exit 4
    echo "sha \${h%% *}"
  fi
fi
exit 0`;

/**
 * After the bytes are on the host in a temp file: set owner and mode, then rename over the
 * destination (atomic within one directory). With a staging file (uploads through sudo, where the
 * login user cannot write the destination directory) the temp file is created next to the
 * destination first, and staging files older than an hour (left by a cut connection) are removed.
 * Any failure removes the temp (and staging) file.
 * Args: temp path (empty with staging), destination, mode (octal), chown spec (may be empty), staging path.
 */
export const FINALIZE_SCRIPT = `t=$1 p=$2 m=$3 o=$4 s=$5
fail() { [ -z "$t" ] || rm -f -- "$t"; [ -z "$s" ] || rm -f -- "$s"; exit 1; }
if [ -n "$s" ]; then
  d=\${p%/*}; [ -n "$d" ] || d=/
  b=\${p##*/}
  t=$(mktemp -- "$d/.$b.khw-XXXXXXXX") || fail
  cat -- "$s" > "$t" || fail
  rm -f -- "$s"
  # staging files an interrupted upload left behind (older than an hour: never a running upload's)
  find "\${s%/*}" -maxdepth 1 -name '.khw-upload-*' -mmin +60 -type f -delete 2>/dev/null
fi
if [ -n "$o" ]; then chown -- "$o" "$t" || fail; fi
chmod -- "$m" "$t" || fail
mv -f -- "$t" "$p" || fail`;

/** Content unchanged, metadata differs. Args: path, mode (octal), chown spec (may be empty). */
export const METADATA_SCRIPT = `p=$1 m=$2 o=$3
if [ -n "$o" ]; then chown -- "$o" "$p" || exit 1; fi
chmod -- "$m" "$p"`;

export const DOWNLOAD_NOT_FOUND_CODE = 44;

/** Args: path. Exit 44 when it is not a regular file. */
export const DOWNLOAD_SCRIPT = `[ -f "$1" ] || { echo "$1: no such file" >&2; exit ${DOWNLOAD_NOT_FOUND_CODE}; }
exec cat -- "$1"`;

export interface RemoteFileState {
  size: number;
  mode: number;
  owner: string;
  group: string;
  sha256: string | undefined;
}

export function parsePrecheck(stdout: string): RemoteFileState | undefined {
  let state: RemoteFileState | undefined;
  for (const line of stdout.split("\n")) {
    const [tag, ...rest] = line.trim().split(" ");
    if (tag === "meta" && rest.length >= 4) {
      state = {
        size: Number(rest[0]),
        mode: Number.parseInt(rest[1] ?? "", 8),
        owner: rest[2] ?? "",
        group: rest[3] ?? "",
        sha256: undefined,
      };
    } else if (tag === "sha" && state) {
      state.sha256 = rest[0];
    }
  }
  return state;
}

export function chownSpec(owner: string | undefined, group: string | undefined): string {
  if (owner && group) return `${owner}:${group}`;
  if (owner) return owner;
  if (group) return `:${group}`;
  return "";
}
