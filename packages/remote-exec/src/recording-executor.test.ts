import { describe, expect, it } from "vitest";
import { fanOut } from "./fan-out.js";
import type { HostTarget } from "./host-target.js";
import { RecordingExecutor } from "./recording-executor.js";
import { secret } from "./secret.js";

const root: HostTarget = { name: "controller-0", host: "10.240.0.10", user: "root" };
const vagrant: HostTarget = { name: "worker-0", host: "127.0.0.1", port: 2222, user: "vagrant" };

describe("RecordingExecutor", () => {
  it("records commands as they would be sent, with sudo only for non-root users", async () => {
    const rec = new RecordingExecutor()
      .respond("systemctl", {})
      .respond((op) => op.kind === "shell" && op.script === 'test -f "$1"', { code: 1 });
    await rec.exec(root, ["systemctl", "daemon-reload"], { sudo: true });
    await rec.exec(vagrant, ["systemctl", "enable", "--now", "kubelet"], { sudo: true });
    await rec.shell(vagrant, 'test -f "$1"', { args: ["/etc/x y"], check: false });
    expect(rec.describe()).toEqual([
      "[controller-0] $ systemctl daemon-reload",
      "[worker-0] $ sudo -n -- systemctl enable --now kubelet",
      "[worker-0] $ sh -c 'test -f \"$1\"' khw '/etc/x y'",
    ]);
    expect(rec.opsFor("worker-0")).toHaveLength(2);
  });

  it("answers with canned results (first matching rule wins) and fails like the real one", async () => {
    const rec = new RecordingExecutor({
      rules: [
        { host: "worker-0", command: "systemctl is-active", result: { code: 3, stdout: "inactive\n" } },
      ],
    })
      .respond("systemctl is-active", { stdout: "active\n" })
      .respond(/kubectl version/, (op) => ({ stdout: `v1.32 on ${op.host}\n` }));
    expect((await rec.exec(root, ["systemctl", "is-active", "etcd"])).stdout).toBe("active\n");
    const r = await rec.exec(vagrant, ["systemctl", "is-active", "etcd"], { check: false });
    expect(r).toEqual({ code: 3, stdout: "inactive\n", stderr: "" });
    await expect(rec.exec(vagrant, ["systemctl", "is-active", "etcd"])).rejects.toMatchObject({
      code: "COMMAND_FAILED",
      host: "worker-0",
    });
    expect((await rec.exec(root, ["kubectl", "version"])).stdout).toBe("v1.32 on controller-0\n");
    const chunks: string[] = [];
    await rec.exec(root, ["kubectl", "version"], { onStdout: (c) => chunks.push(c) });
    expect(chunks).toEqual(["v1.32 on controller-0\n"]);
  });

  it("fails loudly on a command nobody scripted, whatever check says, naming it and how to script it", async () => {
    const rec = new RecordingExecutor().respond("systemctl is-active", { stdout: "active\n" });
    for (const check of [true, false]) {
      const err = await rec.exec(vagrant, ["kubectl", "get", "--raw", "/readyz"], { sudo: true, check }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "NOT_SCRIPTED", host: "worker-0" });
      expect((err as Error).message).toContain("no answer for: sudo -n -- kubectl get --raw /readyz");
      expect((err as { hint: string }).hint).toContain("respond(matcher");
    }
    await expect(rec.shell(root, "etcdctl endpoint health\nexit 0")).rejects.toThrow(
      /no answer for: etcdctl endpoint health …/,
    );
    // scripted per test: first-match rules, or one placed before all others
    rec.respondFirst("systemctl is-active", { code: 3, stdout: "inactive\n" }, "controller-0");
    expect((await rec.exec(root, ["systemctl", "is-active", "etcd"], { check: false })).code).toBe(3);
    expect((await rec.exec(vagrant, ["systemctl", "is-active", "etcd"])).stdout).toBe("active\n");
    // the failed attempts are recorded too
    expect(rec.describe().filter((l) => l.includes("readyz"))).toHaveLength(2);
  });

  it("tracks uploads: changed, then unchanged; files declared as present are respected", async () => {
    const rec = new RecordingExecutor({ files: { "controller-0": { "/etc/etcd/ca.pem": "CA" } } });
    expect((await rec.upload(root, { path: "/etc/etcd/ca.pem", content: "CA" })).changed).toBe(false);
    expect((await rec.upload(root, { path: "/etc/etcd/ca.pem", content: "CA", mode: 0o600 })).changed).toBe(
      true,
    );
    expect((await rec.upload(root, { path: "/etc/etcd/ca.pem", content: "CA", mode: 0o600 })).changed).toBe(
      false,
    );
    expect((await rec.upload(root, { path: "/etc/etcd/key.pem", content: "K", mode: 0o600 })).changed).toBe(
      true,
    );
    expect((await rec.download(root, "/etc/etcd/key.pem")).toString()).toBe("K");
    await expect(rec.download(root, "/nope")).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
    expect(rec.file("controller-0", "/etc/etcd/key.pem")?.mode).toBe(0o600);
    expect(rec.describe().filter((l) => l.includes("upload"))).toEqual([
      "[controller-0] upload /etc/etcd/ca.pem (2 bytes, mode 0644) unchanged",
      "[controller-0] upload /etc/etcd/ca.pem (2 bytes, mode 0600) changed",
      "[controller-0] upload /etc/etcd/ca.pem (2 bytes, mode 0600) unchanged",
      "[controller-0] upload /etc/etcd/key.pem (1 bytes, mode 0600) changed",
    ]);
  });

  it("can report every upload as unchanged (or changed)", async () => {
    const same = new RecordingExecutor({ uploads: "unchanged" });
    expect((await same.upload(root, { path: "/a", content: "x" })).changed).toBe(false);
    const diff = new RecordingExecutor({ uploads: "changed" });
    expect((await diff.upload(root, { path: "/a", content: "x" })).changed).toBe(true);
    expect((await diff.upload(root, { path: "/a", content: "x" })).changed).toBe(true);
  });

  it("never records secrets or upload contents", async () => {
    const rec = new RecordingExecutor()
      .respond("false", { code: 1, stderr: "no" })
      .respond("curl", {})
      .respond("true", {});
    await rec.exec(root, ["curl", "-H", secret("Authorization: Bearer tok123")], {
      env: { T: secret("tok123") },
    });
    await rec.upload(root, { path: "/etc/k.pem", content: "PRIVATE tok123" });
    await rec.exec(root, ["true"], { stdin: "tok123" });
    await expect(rec.exec(root, ["false"], { env: { T: secret("tok123") } })).rejects.toThrow(/T=\*\*\*/);
    expect(JSON.stringify(rec.ops)).not.toContain("tok123");
    expect(rec.describe().join("\n")).not.toContain("tok123");
    expect(rec.describe()[2]).toBe("[controller-0] $ true <stdin 6 bytes>");
  });

  it("simulates unreachable hosts, and works with fanOut", async () => {
    const rec = new RecordingExecutor({ unreachable: ["worker-0"] }).respond("true", {});
    const results = await fanOut([root, vagrant], (h) => rec.exec(h, ["true"]));
    expect(results.map((r) => r.ok)).toEqual([true, false]);
    expect(!results[1]!.ok && results[1]!.error.message).toContain("[worker-0]");
    await rec.close();
    await expect(rec.exec(root, ["true"])).rejects.toMatchObject({ code: "CLOSED" });
    expect(rec.ops.at(-1)).toEqual({ kind: "close" });
  });

  it("validates like the real executor", async () => {
    const rec = new RecordingExecutor();
    await expect(rec.upload(root, { path: "etc/x", content: "x" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(rec.upload(root, { path: "/x", content: "x", owner: "a b" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(rec.exec(root, [])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
