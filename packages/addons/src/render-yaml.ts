import { Document, isScalar, parse, Scalar, visit } from "yaml";
import { AddonsError } from "./errors";
import type { KubeObject } from "./objects";

const TOP = ["apiVersion", "kind", "metadata"];
const META = ["name", "namespace", "labels", "annotations"];

function ordered(value: Record<string, unknown>, first: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of first) if (value[k] !== undefined) out[k] = value[k];
  for (const [k, v] of Object.entries(value)) if (!first.includes(k) && v !== undefined) out[k] = v;
  return out;
}

/**
 * The object with `apiVersion, kind, metadata` first, metadata's `name, namespace, labels,
 * annotations` first, every other key in the order the builder wrote it, undefined fields dropped.
 */
export function canonicalObject<T extends KubeObject>(object: T): T {
  const o = object as unknown as Record<string, unknown>;
  for (const key of ["apiVersion", "kind"] as const) {
    if (typeof o[key] !== "string" || !o[key]) {
      throw new AddonsError(
        "INVALID_OBJECT",
        key,
        `an object has no ${key}`,
        "set apiVersion and kind on every object",
      );
    }
  }
  if (typeof object.metadata?.name !== "string" || !object.metadata.name) {
    throw new AddonsError(
      "INVALID_OBJECT",
      "metadata.name",
      `a ${object.kind} has no metadata.name`,
      "name every object",
    );
  }
  const top = ordered(o, TOP);
  top["metadata"] = ordered(object.metadata as unknown as Record<string, unknown>, META);
  return top as unknown as T;
}

/** Would a YAML 1.1 (go-yaml v2, kubectl's older path) or 1.2 parser read this plain scalar as a non-string? */
function ambiguousByParsing(text: string): boolean {
  try {
    return typeof parse(text, { version: "1.1" }) !== "string" || typeof parse(text) !== "string";
  } catch {
    return true;
  }
}

/**
 * One word of letters, digits and `_ . / = + : -` that starts with a letter, digit, `_` or `/` and does
 * not end with `:` — no indicator, space or document marker: as a whole document it lexes to one plain
 * scalar of exactly this text, which the composer resolves by the schema's tag tests alone.
 */
const PLAIN_WORD = /^[A-Za-z0-9_/][A-Za-z0-9_./=+:-]*$/;

let implicitTests: RegExp[] | undefined;
/** The tests of every implicit (non-string) scalar tag of YAML 1.1 and of 1.2's core schema. */
function implicitTagTests(): RegExp[] {
  implicitTests ??= [new Document(null, { version: "1.1" }), new Document(null)]
    .flatMap((d) => d.schema.tags)
    .filter((t) => t.default === true && t.tag !== "tag:yaml.org,2002:str" && t.test !== undefined)
    .map((t) => t.test!);
  return implicitTests;
}

/**
 * Would a YAML 1.1 (go-yaml v2, kubectl's older path) or 1.2 parser read this plain scalar as a
 * non-string? A plain word that no implicit tag matches is a string in both, for certain (most of a
 * manifest's strings: names, labels, images); anything else is parsed, in both versions.
 */
function ambiguous(text: string): boolean {
  if (text.includes("\n")) return false; // written as a block literal
  if (PLAIN_WORD.test(text) && !text.endsWith(":") && !implicitTagTests().some((re) => re.test(text)))
    return false;
  return ambiguousByParsing(text);
}

/**
 * One object as a YAML document (no `---`), ending with a newline. Strings that any YAML version
 * would read as something else (`"true"`, `"on"`, `"0123"`, timestamps) are double-quoted; multi-line
 * strings are block literals; lines are never folded.
 */
export function renderObjectYaml(object: KubeObject): string {
  const doc = new Document(canonicalObject(object), { aliasDuplicateObjects: false });
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === "string" && ambiguous(node.value))
        node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return doc.toString({ lineWidth: 0, blockQuote: "literal" });
}

/** Objects as a multi-document YAML stream (`---` between documents), as `kubectl apply -f` reads it. */
export function renderObjectsYaml(objects: readonly KubeObject[]): string {
  return objects.map(renderObjectYaml).join("---\n");
}
