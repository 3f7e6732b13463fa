// How values from a spec are echoed in messages: short, and never anything that looks like a secret.

const PEM = /-----BEGIN [A-Z0-9 ]+-----/;
/** A bootstrap token `[a-z0-9]{6}.[a-z0-9]{16}` anywhere in the text. */
const BOOTSTRAP_TOKEN = /[a-z0-9]{6}\.[a-z0-9]{16}/;
/** A run of base64 / base64url of at least 20 characters (keys, tokens, encryption secrets). */
const BASE64_RUN = /[A-Za-z0-9+/_-]{20,}={0,2}/g;

/** Whether text looks like key material or a token: a PEM block, a bootstrap token, a long base64 run. */
export function looksSecret(text: string): boolean {
  if (PEM.test(text) || BOOTSTRAP_TOKEN.test(text)) return true;
  for (const [run] of text.matchAll(BASE64_RUN)) {
    // Plain words and DNS names are long runs too; base64 of random bytes mixes cases and digits.
    const classes = [/[A-Z]/, /[a-z]/, /[0-9]/].filter((r) => r.test(run)).length;
    if (classes === 3 || /[+=]/.test(run)) return true;
  }
  return false;
}

/** A string value quoted for a message: at most 40 characters; secrets never shown. */
export function quoteValue(text: string): string {
  if (looksSecret(text))
    return `a value of ${text.length} characters (not shown: it looks like a key or token)`;
  return `'${text.length > 40 ? `${text.slice(0, 40)}…` : text}'`;
}
