const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one word for a POSIX shell. Words made of safe characters stay as they are; everything else
 * goes in single quotes, so `$`, backticks, globs, spaces and newlines reach the program unchanged.
 * A NUL byte cannot be passed to a program at all: it is refused.
 */
export function shellQuote(word: string): string {
  if (word.includes("\0")) throw new TypeError("a shell word cannot contain a NUL byte");
  if (word !== "" && SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Quotes every word and joins them with spaces: `shellJoin(["echo", "a b"])` → `echo 'a b'`. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
