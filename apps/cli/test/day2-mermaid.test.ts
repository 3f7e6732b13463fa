// The Mermaid text of `khw diagram` through Mermaid's own parser (mermaid 11 in a jsdom window:
// its sanitizer needs a DOM). In a file of its own: the window globals stay out of other tests.
import { defaultClusterSpecInput, loadCluster } from "@khw/spec";
import { unusualSpec } from "@khw/test-kit/fixtures";
import { JSDOM } from "jsdom";
import { beforeAll, describe, expect, it } from "vitest";
import { renderMermaid, topologyFromCluster } from "../src/day2/diagram";

type Mermaid = { parse(text: string): Promise<{ diagramType: string }> };
let mermaid: Mermaid;

beforeAll(async () => {
  const dom = new JSDOM("");
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  mermaid = (await import("mermaid")).default as unknown as Mermaid;
});

const specs = {
  default: defaultClusterSpecInput(),
  unusual: unusualSpec(),
  solo: {
    ...defaultClusterSpecInput(),
    nodes: [{ name: "solo", role: "controlplane" as const, address: "10.1.0.1" }],
  },
};

describe("khw diagram --format mermaid", () => {
  for (const [name, input] of Object.entries(specs)) {
    it(`${name}: Mermaid parses it as a flowchart`, async () => {
      const text = renderMermaid(topologyFromCluster(loadCluster(input).cluster));
      await expect(mermaid.parse(text)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    });
  }
  it("the parser does reject a broken diagram (so the checks above can fail)", async () => {
    const text = renderMermaid(topologyFromCluster(loadCluster(specs.default).cluster));
    await expect(mermaid.parse(text.replace("<-->", "<-x-->"))).rejects.toThrow(/Parse error/);
  });
});
