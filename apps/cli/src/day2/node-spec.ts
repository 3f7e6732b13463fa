import { parseClusterYaml } from "@khw/spec";
import { isMap, isSeq, parseDocument } from "yaml";
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
  nodes.delete(index);
  const out = doc.toString();
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
