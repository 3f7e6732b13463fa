import { describe, expect, it } from "vitest";
import { parseExecCommand, quoteExecArg, renderExecCommand, UnitsError } from "../src/index";
import { TRICKY } from "./_fixtures";

describe("ExecStart quoting", () => {
  it("round-trips every tricky argument through render and systemd's unquoting rules", () => {
    const argv = ["/usr/local/bin/tool", ...TRICKY];
    expect(parseExecCommand(renderExecCommand(argv))).toEqual(argv);
    for (const a of TRICKY) expect(parseExecCommand(`/x ${quoteExecArg(a)}`)).toEqual(["/x", a]);
  });

  it("leaves plain flags unquoted and escapes specifiers and variables", () => {
    expect(quoteExecArg("--v=2")).toBe("--v=2");
    expect(quoteExecArg("--x=$HOME")).toBe("--x=$$HOME");
    expect(quoteExecArg("--x=50%")).toBe("--x=50%%");
    expect(quoteExecArg("a b")).toBe('"a b"');
    expect(quoteExecArg("")).toBe('""');
    expect(quoteExecArg(";")).toBe('";"');
  });

  it("puts one argument per continued line", () => {
    expect(renderExecCommand(["/bin/x", "--a=1", "--b=2"])).toBe("/bin/x \\\n    --a=1 \\\n    --b=2");
  });

  it("rejects a relative or odd executable, naming the field", () => {
    expect(() => renderExecCommand(["etcd"])).toThrow(UnitsError);
    expect(() => renderExecCommand(["etcd"])).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", field: "execStart[0]" }),
    );
    expect(() => renderExecCommand(["/opt/my tools/x"])).toThrow(
      expect.objectContaining({ field: "execStart[0]" }),
    );
    expect(() => renderExecCommand([])).toThrow(expect.objectContaining({ field: "execStart[0]" }));
  });

  it("the parser refuses what systemd would treat differently", () => {
    expect(() => parseExecCommand('/x "open')).toThrow(
      expect.objectContaining({ code: "INVALID_EXEC_LINE" }),
    );
    expect(() => parseExecCommand("/x $HOME")).toThrow(/variable/);
    expect(() => parseExecCommand("/x %n")).toThrow(/specifier/);
    expect(() => parseExecCommand("/x \\q")).toThrow(/escape/);
  });
});
