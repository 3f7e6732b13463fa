import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { secret } from "./secret.js";
import { buildCommand, shellJoin, shellQuote } from "./shell-quote.js";

/** What a real POSIX shell (dash) makes of a command line: the argv it would run. */
function argvSeenBy(commandLine: string): string[] {
  const out = execFileSync("/bin/sh", ["-c", `set -- ${commandLine}; printf '%s\\0' "$@"`], {
    env: { PATH: "/usr/bin:/bin" },
  }).toString();
  return out.split("\0").slice(0, -1);
}

describe("shellQuote", () => {
  it("leaves safe words alone and quotes everything else", () => {
    expect(shellQuote("systemctl")).toBe("systemctl");
    expect(shellQuote("/etc/kubernetes/pki/ca.crt")).toBe("/etc/kubernetes/pki/ca.crt");
    expect(shellQuote("--flag=a,b:c")).toBe("--flag=a,b:c");
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it("round-trips hostile words through a real shell", () => {
    const words = [
      "a b",
      "$(id)",
      "`id`",
      "$HOME",
      "it's",
      '"',
      "\\",
      "*",
      "?",
      "~",
      "a\nb",
      "\t",
      "",
      "!x",
      "#c",
      ";",
      "&&",
      "|",
      "ü€",
    ];
    expect(argvSeenBy(shellJoin(words))).toEqual(words);
  });

  it("refuses NUL bytes", () => {
    expect(() => shellQuote("a\0b")).toThrow(/NUL/);
  });
});

describe("buildCommand", () => {
  it("adds sudo -n, env and hidden exec/timeout wrappers in that order", () => {
    const b = buildCommand({
      argv: ["systemctl", "restart", "etcd"],
      sudo: true,
      env: { A: "1 2" },
      timeoutMs: 1500,
      exec: true,
    });
    expect(b.command).toBe("exec sudo -n -- timeout -s KILL 1.500 env 'A=1 2' systemctl restart etcd");
    expect(b.display).toBe("sudo -n -- env 'A=1 2' systemctl restart etcd");
    expect(argvSeenBy(b.command.replace(/^exec /, ""))).toEqual([
      "sudo",
      "-n",
      "--",
      "timeout",
      "-s",
      "KILL",
      "1.500",
      "env",
      "A=1 2",
      "systemctl",
      "restart",
      "etcd",
    ]);
  });

  it("redacts secrets in the display form only", () => {
    const b = buildCommand({
      argv: ["curl", "-H", secret("Authorization: Bearer abc")],
      env: { TOKEN: secret("xyz") },
    });
    expect(b.command).toContain("'Authorization: Bearer abc'");
    expect(b.command).toContain("TOKEN=xyz");
    expect(b.display).toBe("env TOKEN=*** curl -H ***");
    expect(b.display).not.toMatch(/abc|xyz/);
  });

  it("rejects bad env names, empty argv and bad timeouts with INVALID_ARGUMENT naming the host", () => {
    expect(() => buildCommand({ argv: ["x"], env: { "A-B": "1" } }, "n1")).toThrow(
      /\[n1\] invalid environment variable name/,
    );
    expect(() => buildCommand({ argv: [] }, "n1")).toThrow(/at least one argv word/);
    expect(() => buildCommand({ argv: ["x"], timeoutMs: -1 }, "n1")).toThrow(/invalid timeoutMs/);
  });

  it("secret values print as *** everywhere", () => {
    const s = secret("hunter2");
    expect(String(s)).toBe("***");
    expect(JSON.stringify({ s })).toBe('{"s":"***"}');
    expect(`${s}`).toBe("***");
    expect(s.reveal()).toBe("hunter2");
  });
});
