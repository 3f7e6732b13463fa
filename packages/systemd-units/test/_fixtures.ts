// The kit's fixture set shared with @khw/kubeconfig's golden tests, plus what only these tests need.
export * from "@khw/test-kit/loopback-fixtures";

/** A fixed aescbc key for golden files (32 bytes). */
export const KEY = Buffer.from("khw-golden-encryption-key-32-byt").toString("base64");

/** Arguments that break naive unit writers. */
export const TRICKY = [
  "--plain=a",
  "--space=a b",
  "--two  spaces",
  "--tab=a\tb",
  "--newline=a\nb",
  '--dquote=a"b',
  "--squote=it's",
  "--backslash=C:\\dir\\",
  "--dollar=$HOME",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${HOME} is the point
  "--braces=${HOME}",
  "--dollar-end=$",
  "--percent=100%",
  "--specifier=%n",
  "--semicolon=a;b",
  ";",
  "",
  "--unicode=grüße→✓",
  "--controllers=*,bootstrapsigner,tokencleaner",
  "--esc=\\x41",
];
