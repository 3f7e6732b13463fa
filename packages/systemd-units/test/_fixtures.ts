// The cluster fixtures: the kit's default, and its unusual spec on loopback addresses (the shape
// @khw/kubeconfig's golden files use too).
import {
  defaultCluster,
  loopbackUnusualSpec,
  singleMasterCluster,
  loopbackUnusualCluster as unusualCluster,
} from "@khw/test-kit/fixtures";

export { defaultCluster, singleMasterCluster, unusualCluster };

export const UNUSUAL_SPEC = loopbackUnusualSpec();

export const SPECS = { default: defaultCluster, unusual: unusualCluster } as const;

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
