import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTarGz, readTarGz } from "./_tar";

const tmp = mkdtempSync(join(tmpdir(), "khw-tar-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("tar", () => {
  const entries = [
    { path: "etcd-v3.6.16-linux-amd64/", mode: 0o755, data: Buffer.alloc(0), type: "dir" as const },
    {
      path: "etcd-v3.6.16-linux-amd64/etcd",
      mode: 0o755,
      data: Buffer.from("#!/bin/sh\necho hi\n"),
      type: "file" as const,
    },
    {
      path: `etcd-v3.6.16-linux-amd64/${"d".repeat(80)}/${"f".repeat(60)}`,
      mode: 0o644,
      data: Buffer.alloc(1000, 7),
      type: "file" as const,
    },
  ];

  it("is deterministic and reads back", () => {
    const a = createTarGz(entries, 1700000000);
    expect(createTarGz(entries, 1700000000).equals(a)).toBe(true);
    expect(readTarGz(a)).toEqual(entries);
  });

  it("is extracted by GNU tar with modes and contents intact", () => {
    const file = join(tmp, "a.tar.gz");
    writeFileSync(file, createTarGz(entries, 1700000000));
    execFileSync("tar", ["-xzf", file, "-C", tmp]);
    const etcd = join(tmp, "etcd-v3.6.16-linux-amd64/etcd");
    expect(readFileSync(etcd, "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(statSync(etcd).mode & 0o777).toBe(0o755);
    expect(execFileSync(etcd, [], { encoding: "utf8" })).toBe("hi\n");
    expect(readFileSync(join(tmp, entries[2]!.path)).equals(entries[2]!.data)).toBe(true);
  });

  it("reads an archive made by GNU tar (long names)", () => {
    const src = join(tmp, "src");
    const long = `${"x".repeat(120)}`;
    execFileSync("mkdir", ["-p", join(src, "top")]);
    writeFileSync(join(src, "top", long), "long");
    const file = join(tmp, "gnu.tar.gz");
    execFileSync("tar", ["--format=gnu", "-czf", file, "-C", src, "top"]);
    const read = readTarGz(readFileSync(file));
    expect(read.find((e) => e.path === `top/${long}`)?.data.toString()).toBe("long");
  });

  it("rejects garbage", () => {
    expect(() => readTarGz(Buffer.from("not gzip"))).toThrow(/not valid gzip/);
  });
});
