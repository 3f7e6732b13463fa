import { AddonsError } from "@khw/addons";
import { BundleError } from "@khw/bundle";
import { HaproxyConfigError } from "@khw/haproxy-config";
import { KubeconfigError } from "@khw/kubeconfig";
import { LabError } from "@khw/lab";
import { PkiError } from "@khw/pki";
import { RemoteExecError } from "@khw/remote-exec";
import { UnitsError } from "@khw/systemd-units";
import { describe, expect, it } from "vitest";
import { CliError, isKhwError, type KhwErrorShape } from "../src/errors";
import type { Io } from "../src/io";
import { reportError } from "../src/main";

async function report(e: unknown): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const io: Io = {
    cwd: "/",
    env: { NO_COLOR: "1" },
    stdout: () => {},
    stderr: (t) => {
      stderr += t;
    },
    isTTY: false,
  };
  return { code: await reportError(e, io), stderr };
}

/** One error of every package, each as its own code builds it (each class writes its fix differently). */
const ERRORS: [string, Error & KhwErrorShape, string | undefined][] = [
  [
    "@khw/addons",
    new AddonsError(
      "INVALID_BOOTSTRAP_TOKEN",
      "bootstrapToken.id",
      "must be 6 characters",
      "use [a-z0-9]{6}",
    ),
    "bootstrapToken.id",
  ],
  [
    "@khw/haproxy-config",
    new HaproxyConfigError("INVALID_HAPROXY_CONFIG", [
      {
        path: "backends[0].servers[1].port",
        code: "bad-port",
        message: "70000 is not a TCP port",
        hint: "use 1-65535",
      },
    ]),
    "backends[0].servers[1].port",
  ],
  [
    "@khw/kubeconfig",
    new KubeconfigError("INVALID_PEM", "caPem", "is not a PEM certificate", "pass the CA's PEM"),
    "caPem",
  ],
  [
    "@khw/pki",
    new PkiError("INVALID_KEY", "ca", "the CA key does not match its certificate", "restore pki/ca.key"),
    "ca",
  ],
  [
    "@khw/systemd-units",
    new UnitsError("INVALID_ENCRYPTION_KEY", "encryptionKey", "must be 32 bytes base64", "khw gen makes one"),
    "encryptionKey",
  ],
  [
    "@khw/remote-exec",
    new RemoteExecError("AUTH_FAILED", "authentication failed for user root", {
      host: "master-1",
      hint: "check ~/.ssh/authorized_keys",
    }),
    "master-1",
  ],
  [
    "@khw/bundle",
    new BundleError("CHECKSUM_MISMATCH", "kubelet: sha256 differs", "fetch it again", {
      path: "/tmp/kubelet",
    }),
    "/tmp/kubelet",
  ],
  [
    "@khw/lab",
    new LabError("LAB_HOST_NOT_READY", "sshd did not answer", {
      step: "boot",
      host: "worker-1",
      hint: "khw lab status",
    }),
    "worker-1",
  ],
];

describe("one error shape across packages (code, message, path, hint), formatted once by the CLI", () => {
  it.each(ERRORS)("%s: its error has the shape", (_pkg, e, path) => {
    expect(isKhwError(e)).toBe(true);
    expect(typeof e.code).toBe("string");
    expect(e.path).toBe(path);
    expect(e.hint).toBeTruthy();
  });

  it.each(ERRORS)(
    "%s: printed as one error line and its fix, the fix once, no stack trace, exit 1",
    async (_pkg, e) => {
      const r = await report(e);
      expect(r.code).toBe(1);
      expect(r.stderr.startsWith("error: ")).toBe(true);
      expect(r.stderr).not.toContain("internal error");
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stderr.split(e.hint!).length - 1).toBe(1);
      expect(r.stderr.trimEnd().endsWith(`fix: ${e.hint}`)).toBe(true);
    },
  );

  it("a CliError keeps its own exit code; an Error that is not khw's is a bug, shown with its stack", async () => {
    expect((await report(new CliError("USAGE", "bad", "do this", 2))).code).toBe(2);
    const bug = await report(new TypeError("x is undefined"));
    expect(bug.code).toBe(1);
    expect(bug.stderr).toMatch(/^internal error/);
    expect(bug.stderr).toMatch(/^\s+at /m);
  });

  it("Node's errno errors are not mistaken for khw's (they have a code but no hint)", () => {
    const enoent = Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    expect(isKhwError(enoent)).toBe(false);
  });
});
