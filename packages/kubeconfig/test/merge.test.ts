import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KUBECONFIG_PATHS, kubeconfigFilesFromCluster, mergeKubeconfig, parseKubeconfig } from "../src/index";
import { defaultCluster, FAKE } from "./_fixtures";

const ours = () =>
  parseKubeconfig(
    kubeconfigFilesFromCluster(defaultCluster(), FAKE).find((f) => f.path === KUBECONFIG_PATHS.adminMachine)!
      .contents,
  );

/** A ~/.kube/config with other clusters, an exec user, a namespace, extensions and a same-named stale entry. */
const EXISTING = `apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
  - name: prod
    cluster:
      server: https://prod.example:443
      certificate-authority-data: ${Buffer.from("prod-ca").toString("base64")}
      extensions:
        - name: client.authentication.k8s.io/exec
          extension: {audience: prod}
  - name: kubernetes-the-hard-way
    cluster:
      server: https://10.0.0.99:6443
      insecure-skip-tls-verify: true
contexts:
  - name: prod
    context: {cluster: prod, user: prod-sso, namespace: payments}
  - name: kubernetes-the-hard-way
    context: {cluster: kubernetes-the-hard-way, user: admin@kubernetes-the-hard-way}
current-context: prod
users:
  - name: prod-sso
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1
        command: sso-helper
        args: [--tenant, x]
  - name: admin
    user: {token: someone-elses}
`;

describe("mergeKubeconfig", () => {
  it("adds our entries to an empty or missing file", () => {
    for (const text of ["", "\n", "# nothing\n"]) {
      const r = mergeKubeconfig(text, ours());
      expect(parseKubeconfig(r.yaml)).toEqual(ours());
      expect(r.added).toEqual([
        "cluster/kubernetes-the-hard-way",
        "context/kubernetes-the-hard-way",
        "user/admin@kubernetes-the-hard-way",
      ]);
      expect(r.replaced).toEqual([]);
    }
  });

  it("keeps every other entry exactly, replaces our same-named entries in place", () => {
    const r = mergeKubeconfig(EXISTING, ours());
    const before = parse(EXISTING);
    const after = parse(r.yaml);
    // theirs: byte-for-byte the same objects
    expect(after.clusters[0]).toEqual(before.clusters[0]);
    expect(after.contexts[0]).toEqual(before.contexts[0]);
    expect(after.users[0]).toEqual(before.users[0]);
    expect(after.users).toContainEqual({ name: "admin", user: { token: "someone-elses" } });
    expect(after.preferences).toEqual({ colors: true });
    // ours: replaced in place (same index), the stale insecure flag gone
    expect(after.clusters[1].name).toBe("kubernetes-the-hard-way");
    expect(after.clusters[1].cluster).toEqual({
      "certificate-authority-data": Buffer.from(FAKE.caPem).toString("base64"),
      server: "https://192.168.56.30:6443",
    });
    expect(r.replaced).toEqual(["cluster/kubernetes-the-hard-way"]);
    expect(r.unchanged).toEqual(["context/kubernetes-the-hard-way"]);
    expect(r.added).toEqual(["user/admin@kubernetes-the-hard-way"]);
    expect(after.clusters).toHaveLength(2);
    expect(after.contexts).toHaveLength(2);
    expect(after.users).toHaveLength(3);
    expect(r.currentContext).toEqual({ before: "prod", after: "kubernetes-the-hard-way" });
  });

  it("leaves current-context alone when asked", () => {
    const r = mergeKubeconfig(EXISTING, ours(), { setCurrentContext: false });
    expect(parse(r.yaml)["current-context"]).toBe("prod");
  });

  it("is idempotent: merging again changes nothing", () => {
    const once = mergeKubeconfig(EXISTING, ours()).yaml;
    const twice = mergeKubeconfig(once, ours());
    expect(twice.yaml).toBe(once);
    expect(twice.added).toEqual([]);
    expect(twice.replaced).toEqual([]);
  });

  it("is idempotent from an empty file and whatever key order the file had", () => {
    for (const start of ["", "preferences: {}\nusers: []\napiVersion: v1\nkind: Config\nclusters: []\n"]) {
      const once = mergeKubeconfig(start, ours()).yaml;
      expect(mergeKubeconfig(once, ours()).yaml).toBe(once);
    }
  });

  it("refuses a file that is not a kubeconfig instead of overwriting it", () => {
    expect(() => mergeKubeconfig("- just\n- a list\n", ours())).toThrow(
      expect.objectContaining({ code: "INVALID_KUBECONFIG" }),
    );
    expect(() => mergeKubeconfig("clusters:\n  - server: x\n", ours())).toThrow(
      expect.objectContaining({ field: "clusters[0].name" }),
    );
  });
});
