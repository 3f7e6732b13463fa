import {
  Composer,
  type CST,
  type Document,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  type Node,
  type Pair,
  Parser,
  type YAMLMap,
  YAMLParseError,
} from "yaml";
import { looksSecret } from "./_show";
import { SpecError, type SpecIssue } from "./errors";

// cluster.yaml text to a YAML document and its plain value, bounded and with every syntax error placed;
// no schema here (no zod): both parseClusterYaml and the quick path (quick.ts) start from this.

/** Where a text document came from, for errors. */
export interface ParseOptions {
  /** Shown in errors, e.g. `cluster.yaml`. */
  file?: string;
}

function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

// Each map's pairs by key, built once: placing N issues in a map of N keys stays linear.
const PAIRS = new WeakMap<YAMLMap, Map<string, Pair>>();
function pairsOf(map: YAMLMap): Map<string, Pair> {
  let byKey = PAIRS.get(map);
  if (!byKey) {
    byKey = new Map();
    for (const p of map.items) {
      if (isPair(p) && isScalar(p.key) && !byKey.has(String(p.key.value))) byKey.set(String(p.key.value), p);
    }
    PAIRS.set(map, byKey);
  }
  return byKey;
}

/** The YAML node for a path; for the last segment of a map, the key (so unknown keys point at themselves). */
export function locate(
  doc: Document,
  path: string,
  lc: LineCounter,
  atKey: boolean,
): { line: number; column: number } | undefined {
  const segs = splitPath(path);
  let node: unknown = doc.contents;
  let best: Node | undefined = isNode(node) ? node : undefined;
  for (const [i, seg] of segs.entries()) {
    if (isMap(node)) {
      const pair = pairsOf(node).get(String(seg));
      if (!pair) break;
      node = pair.value;
      const last = i === segs.length - 1;
      best = (last && atKey) || !isNode(node) ? (pair.key as Node) : node;
    } else if (isSeq(node) && typeof seg === "number") {
      node = node.items[seg];
      if (!isNode(node)) break;
      best = node;
    } else break;
  }
  const offset = best?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

/** "Map keys must be unique" errors, like the composer's `uniqueKeys`, in one pass without recursion. */
function duplicateKeys(doc: Document.Parsed): YAMLParseError[] {
  const errors: YAMLParseError[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const key = `${typeof pair.key.value}:${String(pair.key.value)}`;
          if (seen.has(key)) {
            const at = pair.key.range ?? [0, 0];
            errors.push(new YAMLParseError([at[0], at[1]], "DUPLICATE_KEY", "Map keys must be unique"));
          } else seen.add(key);
        } else stack.push(pair.key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) for (const item of node.items) stack.push(item);
  }
  return errors;
}

/**
 * More YAML tokens than any cluster spec holds (a spec of 1000 workers has about 25,000), and few enough
 * that parsing stays well under a second: a malformed 1 MiB file (`a: [` on every line, 1.5 million
 * tokens) took 7 s and 877 MB to answer with 400,000 errors.
 */
export const MAX_YAML_TOKENS = 100_000;

/**
 * The document's tokens (what `new Parser(onNewLine).parse(text)` yields), lexed once; undefined past
 * MAX_YAML_TOKENS lexemes, where it stops: the work stays bounded by the limit whatever the text.
 */
function parseTokens(text: string, lc: LineCounter): CST.Token[] | undefined {
  const parser = new Parser(lc.addNewLine);
  lc.addNewLine(0); // as Parser.parse does before the first lexeme
  const tokens: CST.Token[] = [];
  let n = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (++n > MAX_YAML_TOKENS) return undefined;
    for (const token of parser.next(lexeme)) tokens.push(token);
  }
  for (const token of parser.end()) tokens.push(token);
  return tokens;
}

/** Deeper than any cluster spec (a node's kubelet extraConfig included), far below the parser's limits. */
const MAX_DEPTH = 64;

/** How deep collections nest in a token stream, walked with an explicit stack (no recursion). */
function nestingDepth(tokens: readonly unknown[]): number {
  type Tok = { type?: string; value?: unknown; items?: { key?: unknown; value?: unknown }[] };
  let max = 0;
  const stack: [unknown, number][] = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [t, depth] = stack.pop()!;
    if (t === null || typeof t !== "object") continue;
    const tok = t as Tok;
    max = Math.max(max, depth);
    if (max > MAX_DEPTH) return max;
    if (Array.isArray(tok.items))
      for (const item of tok.items) stack.push([item.key, depth + 1], [item.value, depth + 1]);
    else if (tok.type === "document") stack.push([tok.value, depth]);
  }
  return max;
}

/**
 * Runs `fn` with stack capture off for the errors it creates. The YAML composer makes one error object
 * per problem, and each captured a stack: a malformed 1 MiB file (~400,000 problems) spent seconds and
 * hundreds of MB there. Their positions come from the LineCounter; the stacks were never shown.
 */
function withoutErrorStacks<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The first document of the token stream, with the composer's errors and khw's duplicate-key check. */
function composeOne(tokens: CST.Token[], length: number): Document.Parsed {
  let doc: Document.Parsed | undefined;
  for (const d of new Composer({ uniqueKeys: false, strict: true }).compose(tokens, true, length)) {
    if (!doc) doc = d;
    else {
      doc.errors.push(
        new YAMLParseError([d.range[0], d.range[1]], "MULTIPLE_DOCS", "Source contains multiple documents"),
      );
      break;
    }
  }
  if (!doc) throw new Error("the YAML composer returned no document");
  // The composer's own duplicate-key check compares every key with every earlier one (50,000 keys take
  // minutes); this one keeps a set per mapping.
  for (const e of duplicateKeys(doc)) doc.errors.push(e);
  return doc;
}

/** Gives each issue the line and column of its path in the document. */
export function placeIssues(issues: SpecIssue[], doc: Document, lc: LineCounter): SpecIssue[] {
  return issues.map((i) => ({ ...i, ...(locate(doc, i.path, lc, i.code === "unknown-key") ?? {}) }));
}

/**
 * Parses cluster.yaml text (YAML or JSON) to its plain value, with the document and line counter to place
 * later issues. Throws SpecError for a document too large, too deep or with syntax errors, or empty.
 */
export function parseYamlValue(
  text: string,
  options: ParseOptions = {},
): { value: unknown; doc: Document.Parsed; lc: LineCounter } {
  // Bound the work: the parser and composer cost grows with the tokens, and so does the number of
  // errors a malformed file yields. Parse to tokens first (the parser keeps its own stack) and refuse a
  // document nested past MAX_DEPTH before the composer recurses into it: at a few thousand levels it
  // exhausts the call stack, and where that happens inside V8's regular-expression compiler the whole
  // process aborts.
  const lc = new LineCounter();
  const tokens = parseTokens(text, lc);
  if (!tokens) {
    throw new SpecError(
      [
        {
          path: "",
          code: "yaml-too-large",
          message: `the document has more than ${MAX_YAML_TOKENS} YAML tokens, more than any cluster spec (1000 workers take about 25,000)`,
          severity: "error",
          hint: "pass the cluster spec (cluster.yaml); `khw init` writes one",
        },
      ],
      options.file,
    );
  }
  if (nestingDepth(tokens) > MAX_DEPTH) {
    throw new SpecError(
      [
        {
          path: "",
          code: "yaml-too-deep",
          message: `the document nests more than ${MAX_DEPTH} levels deep`,
          severity: "error",
          hint: "a cluster spec nests a few levels deep; check the brackets and indentation",
        },
      ],
      options.file,
    );
  }
  // What parseDocument does, on the tokens already parsed. prettyErrors stays off: it quotes the source
  // into every message; line and column come from the LineCounter.
  const doc = withoutErrorStacks(() => composeOne(tokens, text.length));
  if (doc.errors.length > 0) {
    // A malformed 1 MiB file yields ~400,000 errors with a few distinct messages: each message is
    // screened once.
    const messages = new Map<string, string>();
    const screened = (e: YAMLParseError): string => {
      const first = e.message.split("\n")[0]!;
      let m = messages.get(first);
      if (m === undefined) {
        // Nothing that looks like key material.
        m = looksSecret(first) ? `YAML syntax error (${e.code})` : first;
        messages.set(first, m);
      }
      return m;
    };
    const issues: SpecIssue[] = doc.errors.map((e) => {
      const { line, col } = lc.linePos(e.pos[0]);
      const deep = e.code === "RESOURCE_EXHAUSTION";
      return {
        path: "",
        code: deep ? "yaml-too-deep" : "yaml-syntax",
        message: deep ? "the document nests too deeply to parse" : screened(e),
        severity: "error",
        hint: deep
          ? "a cluster spec nests a few levels deep; check the brackets and indentation"
          : "fix the YAML syntax at this position",
        line,
        column: col,
      };
    });
    throw new SpecError(issues, options.file);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw new SpecError(
      [
        {
          path: "",
          code: "yaml-content",
          message: (e as Error).message,
          severity: "error",
          hint: "avoid YAML aliases and tags",
        },
      ],
      options.file,
    );
  }
  if (value === null || value === undefined) {
    throw new SpecError(
      [
        {
          path: "",
          code: "empty",
          message: "the file is empty",
          severity: "error",
          hint: "run `khw init` to write a starting spec",
        },
      ],
      options.file,
    );
  }
  return { value, doc, lc };
}
