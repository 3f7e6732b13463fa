import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readTar, sha256File, TarError, type TarInput, tarBuffer, writeTar } from "../src/index";

const tmp = mkdtempSync(join(tmpdir(), "khw-host-io-tar-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const long = `etcd-v3.6.16-linux-amd64/${"d".repeat(80)}/${"f".repeat(60)}`;
const entries: TarInput[] = [
  { path: "etcd-v3.6.16-linux-amd64/", mode: 0o755, type: "dir" },
  {
    path: "etcd-v3.6.16-linux-amd64/etcd",
    mode: 0o755,
    type: "file",
    data: Buffer.from("#!/bin/sh\necho hi\n"),
  },
  { path: long, mode: 0o644, type: "file", data: Buffer.alloc(1000, 7) },
  { path: "etcd-v3.6.16-linux-amd64/sh", mode: 0o777, type: "symlink", linkname: "etcd" },
];

describe("tar", () => {
  it("is deterministic, and reads back what it wrote (long names and symlinks too)", async () => {
    const a = await tarBuffer(entries, { gzip: true, mtime: 1700000000 });
    expect((await tarBuffer(entries, { gzip: true, mtime: 1700000000 })).equals(a)).toBe(true);
    const back = await readTar(a, { gzip: true });
    expect(back.map((e) => [e.path, e.type, e.mode, e.linkname])).toEqual([
      ["etcd-v3.6.16-linux-amd64/", "dir", 0o755, undefined],
      ["etcd-v3.6.16-linux-amd64/etcd", "file", 0o755, undefined],
      [long, "file", 0o644, undefined],
      ["etcd-v3.6.16-linux-amd64/sh", "symlink", 0o777, "etcd"],
    ]);
    expect(back[2]!.data.equals(Buffer.alloc(1000, 7))).toBe(true);
  });

  it("streams files from disk into an archive GNU tar extracts with modes, contents and links intact", async () => {
    const big = join(tmp, "big");
    writeFileSync(big, Buffer.alloc(3 * 1024 * 1024 + 17, 1));
    const file = join(tmp, "a.tar.gz");
    const written = await writeTar(
      file,
      [
        ...entries,
        {
          path: "etcd-v3.6.16-linux-amd64/big",
          mode: 0o600,
          type: "file",
          file: big,
          size: statSync(big).size,
        },
      ],
      { gzip: true, mtime: 1700000000 },
    );
    expect(written.sha256).toBe(await sha256File(file));
    expect(written.size).toBe(statSync(file).size);
    const out = join(tmp, "x");
    execFileSync("mkdir", ["-p", out]);
    execFileSync("tar", ["-xzf", file, "-C", out]);
    const etcd = join(out, "etcd-v3.6.16-linux-amd64/etcd");
    expect(execFileSync(etcd, [], { encoding: "utf8" })).toBe("hi\n");
    expect(statSync(etcd).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(out, long)).equals(Buffer.alloc(1000, 7))).toBe(true);
    expect(readlinkSync(join(out, "etcd-v3.6.16-linux-amd64/sh"))).toBe("etcd");
    expect(readFileSync(join(out, "etcd-v3.6.16-linux-amd64/big")).equals(readFileSync(big))).toBe(true);
    expect(statSync(join(out, "etcd-v3.6.16-linux-amd64/big")).mode & 0o777).toBe(0o600);
    const listing = execFileSync("tar", ["-tvzf", file], { encoding: "utf8" });
    expect(listing).toMatch(/root\/root/);
    expect(listing).toMatch(/2023-11-14/);
  });

  it("reads an archive made by GNU tar (long names), from a path, names only when asked", async () => {
    const src = join(tmp, "src");
    const name = "x".repeat(120);
    execFileSync("mkdir", ["-p", join(src, "top")]);
    writeFileSync(join(src, "top", name), "long");
    const file = join(tmp, "gnu.tar.gz");
    execFileSync("tar", ["--format=gnu", "-czf", file, "-C", src, "top"]);
    expect((await readTar(file, { gzip: true })).find((e) => e.path === `top/${name}`)?.data.toString()).toBe(
      "long",
    );
    const names = await readTar(file, { gzip: true, data: false });
    expect(names.find((e) => e.path === `top/${name}`)?.data.length).toBe(0);
  });

  it("rejects garbage with a TarError and leaves no temp file when the source is missing", async () => {
    await expect(readTar(Buffer.from("not gzip"), { gzip: true })).rejects.toThrow(TarError);
    await expect(readTar(Buffer.from("not gzip"), { gzip: true })).rejects.toThrow(/not valid gzip/);
    const target = join(tmp, "missing.tar");
    await expect(
      writeTar(target, [{ path: "f", mode: 0o644, type: "file", file: join(tmp, "nope"), size: 1 }]),
    ).rejects.toThrow(/ENOENT/);
    expect(() => statSync(`${target}.tmp-${process.pid}`)).toThrow();
    expect(() => statSync(target)).toThrow();
  });
});
