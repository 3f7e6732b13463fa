import { parseClusterYaml } from "@khw/spec";
import { isMap, isSeq, parseDocument, visit } from "yaml";
import { CliError } from "../errors";

/**
 * cluster.yaml without the node `name`: the entry is deleted from `nodes:` through the yaml Document
 * API, so every other line keeps its comments and layout (the comments written on the removed entry go
 * with it). The result is parsed again as a spec before it is returned: a spec left invalid by the
 * removal is an error, never a file to write.
 */
export function removeNodeFromSpecText(text: string, name: string, displayName: string): string {
  const doc = parseDocument(text, { keepSourceTokens: false });
  const nodes = doc.get("nodes", true);
  if (!isSeq(nodes)) {
    throw new CliError("SPEC_UPDATE", `${displayName} has no \`nodes:\` list to remove ${name} from`);
  }
  const index = nodes.items.findIndex((item) => isMap(item) && item.get("name") === name);
  if (index < 0) return text;
  // An anchor defined in the removed entry (`&a1`, as `khw lab up` writes shared settings) must not leave
  // dangling aliases: each alias to it elsewhere becomes a copy of the value (while the anchor still exists).
  const removed = nodes.items[index];
  const anchored = new Set<unknown>();
  visit(removed as Parameters<typeof visit>[0], {
    Node(_key, n) {
      if ((n as { anchor?: string }).anchor) anchored.add(n);
    },
  });
  if (anchored.size) {
    visit(doc, {
      Alias(_key, alias) {
        const target = alias.resolve(doc);
        if (!target || !anchored.has(target)) return undefined;
        const copy = target.clone() as typeof target;
        copy.anchor = undefined;
        return copy;
      },
    });
  }
  nodes.delete(index);
  // lineWidth 0: no line of the user's is folded anew
  const out = doc.toString({ lineWidth: 0 });
  try {
    parseClusterYaml(out, { file: displayName });
  } catch (e) {
    throw new CliError(
      "SPEC_UPDATE",
      `${displayName} would not be a valid spec without ${name} (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); it was left as it is`,
      `edit ${displayName} by hand: delete the entry of ${name} under nodes:`,
    );
  }
  return out;
}
