import { BAD_SPECS } from "@khw/test-kit/bad-specs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  defaultClusterSpecInput,
  formatIssues,
  loadCluster,
  MAX_YAML_TOKENS,
  parseClusterYaml,
  SpecError,
  type SpecIssue,
} from "../src/index";

function issuesOf(yaml: string): { thrown: boolean; issues: SpecIssue[] } {
  try {
    return { thrown: false, issues: parseClusterYaml(yaml, { file: "cluster.yaml" }).warnings };
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    return { thrown: true, issues: [...e.issues] };
  }
}

describe("the bad-spec corpus", () => {
  it("has at least 400 cases with unique names", () => {
    expect(BAD_SPECS.length).toBeGreaterThanOrEqual(400);
    expect(new Set(BAD_SPECS.map((c) => c.name)).size).toBe(BAD_SPECS.length);
  });
  for (const c of BAD_SPECS) {
    it(`${c.name} → exit ${c.exit}, ${c.path || "(document)"}: ${c.code}`, () => {
      const { thrown, issues } = issuesOf(c.yaml);
      // exit 3 is a SpecError (an invalid spec); exit 0 a spec that loads, with the warning.
      expect(thrown).toBe(c.exit === 3);
      const hit = issues.find((i) => i.path === c.path && i.code === c.code && i.message === c.message);
      expect(hit, `issues were: ${JSON.stringify(issues, null, 1)}`).toBeDefined();
      expect(hit!.hint).toBe(c.hint);
      expect(hit!.severity).toBe(c.severity);
      // Every issue of a text document points at a line (the document itself for a non-mapping).
      if (c.path !== "") expect(hit!.line).toBeGreaterThan(0);
      // What a terminal shows carries no control character, whatever the document held.
      expect(formatIssues(issues, "cluster.yaml")).not.toMatch(
        /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/,
      );
    });
  }
});

describe("formatIssues: safe to print", () => {
  const issue = (message: string, path = "nodes[0].name"): SpecIssue => ({
    path,
    code: "x",
    message,
    severity: "error",
  });
  it("shows an OSC 52 clipboard write, cursor moves and bidi overrides as escapes", () => {
    const text = formatIssues(
      [
        issue("the string 'a\u001b]52;c;aGk=\u0007' is bad"),
        issue("w\u001b[2Ao\u202ex\ny\u009b", "p\u001bq"),
      ],
      "c\u001b.yaml",
    );
    expect(text).toBe(
      "c\\x1b.yaml nodes[0].name: the string 'a\\x1b]52;c;aGk=\\x07' is bad\n" +
        "c\\x1b.yaml p\\x1bq: w\\x1b[2Ao\\u202ex\\ny\\x9b",
    );
  });
  it("prints the first 50 problems, then a count", () => {
    const many = Array.from({ length: 75_000 }, (_, i) => issue(`problem ${i}`));
    const lines = formatIssues(many).split("\n");
    expect(lines).toHaveLength(51);
    expect(lines[49]).toBe("nodes[0].name: problem 49");
    expect(lines[50]).toBe("… and 74950 more problems");
    expect(formatIssues(many, undefined, { limit: 2 }).split("\n")).toEqual([
      "nodes[0].name: problem 0",
      "nodes[0].name: problem 1",
      "… and 74998 more problems",
    ]);
    expect(new SpecError(many).message.split("\n")).toHaveLength(52);
  });
  it("a decoded value that is not a mapping says so without its content (loadCluster too)", () => {
    for (const v of ["abcdef.0123456789abcdef", 42, [1], true, null]) {
      try {
        loadCluster(v);
        expect.unreachable();
      } catch (e) {
        expect((e as SpecError).issues.map((i) => i.code)).toEqual(["not-a-mapping"]);
        expect((e as SpecError).message).not.toContain("0123456789");
      }
    }
  });
});

describe("fuzzing the fields the new rules read finds only SpecError", () => {
  const FIELDS = [
    "nodes.0.name",
    "nodes.2.address",
    "nodes.1.ssh.host",
    "nodes.3.ssh.port",
    "network.podCIDR",
    "network.serviceCIDR",
    "versions.kubernetes",
    "versions.containerd",
    "pki.validityDays",
    "pki.caValidityDays",
  ];
  const value = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.ipV4().map((ip) => ip),
    fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([ip, n]) => `${ip}/${n}`),
    fc.tuple(fc.nat(3), fc.nat(120), fc.nat(99)).map(([a, b, c]) => `v${a}.${b}.${c}`),
    fc.integer({ min: -5, max: 70_000 }),
    fc.constant(null),
  );
  it("every generated spec loads or throws SpecError", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FIELDS), value, (field, v) => {
        const spec = structuredClone(defaultClusterSpecInput()) as Record<string, unknown>;
        const segs = field.split(".");
        let o = spec as Record<string, unknown>;
        for (const seg of segs.slice(0, -1)) o = o[seg] as Record<string, unknown>;
        o[segs.at(-1)!] = v;
        try {
          parseClusterYaml(stringify(spec));
        } catch (e) {
          if (!(e instanceof SpecError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("documents built to exhaust the parser get one clear error", () => {
  const codes = (text: string) => {
    try {
      parseClusterYaml(text);
      return [];
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      return e.issues.map((i) => i.code);
    }
  };
  it("nesting past 64 levels, in flow or block style, is refused before the parser recurses", () => {
    // At ~1,000 levels the old parse aborted the whole process inside V8's regular-expression compiler.
    for (const text of [
      "[".repeat(1000) + "]".repeat(1000),
      "[".repeat(50_000),
      "{a: ".repeat(10_000) + "}".repeat(10_000),
      `nodes: ${"[".repeat(5000)}${"]".repeat(5000)}`,
      Array.from({ length: 2000 }, (_, i) => `${" ".repeat(i * 2)}- `).join("\n"),
      Array.from({ length: 3000 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n"),
      `${"- ".repeat(5000)}x`,
    ]) {
      expect(codes(text)).toEqual(["yaml-too-deep"]);
    }
    expect(codes(`${"{a: ".repeat(64)}${"}".repeat(64)}`)).not.toContain("yaml-too-deep");
    expect(codes(`${"{a: ".repeat(65)}${"}".repeat(65)}`)).toEqual(["yaml-too-deep"]);
  });
  it("10,000 unknown keys end in a SpecError (placing each issue no longer rescans the mapping)", () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `k${i}: ${i}`).join("\n");
    expect(codes(many)).toHaveLength(10_001);
  }, 60_000);
  it("more than MAX_YAML_TOKENS tokens: one error before parsing (a 1 MiB file of `a: [` lines took 7 s)", () => {
    const oneMiB = "a: [\n".repeat(Math.floor((1024 * 1024) / 5));
    for (const text of [
      oneMiB,
      "[".repeat(100_000),
      Array.from({ length: 50_000 }, (_, i) => `k${i}: ${i}`).join("\n"),
      `nodes: [${"1,".repeat(60_000)}]`,
    ]) {
      try {
        parseClusterYaml(text, { file: "big.yaml" });
        expect.unreachable();
      } catch (e) {
        expect((e as SpecError).issues).toEqual([
          {
            path: "",
            code: "yaml-too-large",
            message: `the document has more than ${MAX_YAML_TOKENS} YAML tokens, more than any cluster spec (1000 workers take about 25,000)`,
            severity: "error",
            hint: "pass the cluster spec (cluster.yaml); `khw init` writes one",
          },
        ]);
      }
    }
    // Just under the bound, every problem is still found and counted.
    expect(codes("a: [\n".repeat(14_000))).toHaveLength(27_999);
  });
  it("a spec of 1000 workers stays far below the token bound and loads", () => {
    const input = defaultClusterSpecInput();
    const nodes = input.nodes.filter((n) => n.role !== "worker");
    for (let i = 0; i < 1000; i++)
      nodes.push({
        name: `w-${i}`,
        role: "worker",
        address: `192.168.${60 + Math.floor(i / 250)}.${(i % 250) + 1}`,
      });
    const text = stringify({ ...input, nodes, network: { ...input.network, podCIDR: "10.128.0.0/9" } });
    expect(parseClusterYaml(text).cluster.workers).toHaveLength(1000);
  }, 60_000);
  it("duplicate keys are found at every depth, once per repeat", () => {
    expect(codes("nodes:\n  - {a: 1, a: 2, a: 3}\n  - name: x\n    name: y\nnodes: []\n")).toEqual([
      "yaml-syntax",
      "yaml-syntax",
      "yaml-syntax",
      "yaml-syntax",
    ]);
  });
});
