// The guide's Mermaid diagrams (certificate tree, TLS bootstrap sequence, topology) through Mermaid's
// own parser (mermaid 11 in a jsdom window). In a file of its own: the window globals stay out of other tests.
import { defaultClusterSpecInput, loadCluster, parseClusterYaml } from "@khw/spec";
import { JSDOM } from "jsdom";
import { beforeAll, describe, expect, it } from "vitest";
import { buildGuide, en } from "../src/guide";
import type { Block } from "../src/guide/model";
import { UNUSUAL_SPEC } from "./golden/fixtures";

type Mermaid = { parse(text: string): Promise<{ diagramType: string }> };
let mermaid: Mermaid;

beforeAll(async () => {
  const dom = new JSDOM("");
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  mermaid = (await import("mermaid")).default as unknown as Mermaid;
});

const clusters = {
  default: loadCluster(defaultClusterSpecInput()).cluster,
  unusual: parseClusterYaml(UNUSUAL_SPEC).cluster,
};

describe("the guide's diagrams", () => {
  for (const [name, cluster] of Object.entries(clusters)) {
    it(`${name}: every Mermaid diagram parses, with the type it claims`, async () => {
      const diagrams = buildGuide(cluster, en).chapters.flatMap((c) =>
        c.blocks.filter((b): b is Extract<Block, { kind: "diagram" }> => b.kind === "diagram"),
      );
      const types = [];
      for (const d of diagrams) types.push((await mermaid.parse(d.mermaid)).diagramType);
      expect(types).toEqual(
        name === "default" ? ["flowchart-v2", "flowchart-v2", "sequence"] : ["flowchart-v2", "flowchart-v2"], // no TLS-bootstrapping worker: no sequence
      );
      // The HTML guide shows each without a script: the topology as SVG, the others as text.
      for (const d of diagrams) expect(d.svg ?? d.text).toBeTruthy();
    });
  }
});
