// The validator must bite: objects the apiserver would refuse are refused here too.
import { describe, expect, it } from "vitest";
import { corednsObjects, smokeTestObjects } from "../src/index";
import { K8S_SCHEMA_VERSION, schemaErrors, schemaKinds } from "./_k8s-schema";

// biome-ignore lint/suspicious/noExplicitAny: tests break objects on purpose
type Obj = Record<string, any>;
const goodService = () => structuredClone(smokeTestObjects({ nodePort: 30080 })[2]!) as Obj;
const goodDeployment = () =>
  structuredClone(
    corednsObjects({ version: "1.11.3", dnsServiceIP: "10.96.0.10", clusterDomain: "cluster.local" })[4]!,
  ) as Obj;

describe(`the Kubernetes ${K8S_SCHEMA_VERSION} schema validator`, () => {
  it("has a schema for every kind khw emits", () => {
    expect(schemaKinds().sort()).toEqual(
      [
        "apps/v1 DaemonSet",
        "apps/v1 Deployment",
        "rbac.authorization.k8s.io/v1 ClusterRole",
        "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1 Role",
        "rbac.authorization.k8s.io/v1 RoleBinding",
        "v1 ConfigMap",
        "v1 Namespace",
        "v1 Pod",
        "v1 Secret",
        "v1 Service",
        "v1 ServiceAccount",
      ].sort(),
    );
  });

  it("accepts a Namespace (what the CLI's smoke test puts its objects in)", () => {
    expect(schemaErrors({ apiVersion: "v1", kind: "Namespace", metadata: { name: "khw-smoke" } })).toEqual(
      [],
    );
    expect(
      schemaErrors({ apiVersion: "v1", kind: "Namespace", metadata: { name: "x" }, spec: { finalizer: [] } }),
    ).toEqual(["/spec: must NOT have additional properties 'finalizer'"]);
  });

  it("accepts the unmodified objects (control for the cases below)", () => {
    expect(schemaErrors(goodService())).toEqual([]);
    expect(schemaErrors(goodDeployment())).toEqual([]);
  });

  it("rejects a Service with a string port", () => {
    const s = goodService();
    s.spec.ports[0].port = "80";
    expect(schemaErrors(s)).toEqual(["/spec/ports/0/port: must be integer"]);
  });

  it("rejects a Deployment without a selector", () => {
    const d = goodDeployment();
    delete d.spec.selector;
    expect(schemaErrors(d)).toEqual(["/spec: must have required property 'selector'"]);
  });

  it("rejects a misspelt field (strict, like kubeconform -strict)", () => {
    const d = goodDeployment();
    d.spec.template.spec.containers[0].imagePullPolicyy = "Always";
    expect(schemaErrors(d)).toEqual([
      "/spec/template/spec/containers/0: must NOT have additional properties 'imagePullPolicyy'",
    ]);
  });

  it("rejects two container ports with the same port and protocol (list-map keys)", () => {
    const d = goodDeployment();
    d.spec.template.spec.containers[0].ports[1].protocol = "UDP";
    expect(schemaErrors(d).join("\n")).toMatch(/ports: duplicate item for keys containerPort,protocol/);
  });

  it("rejects a port beyond int32 and a bad timestamp format", () => {
    const s = goodService();
    s.spec.ports[0].port = 2 ** 31;
    expect(schemaErrors(s)).toEqual(['/spec/ports/0/port: must match format "int32"']);
  });

  it("rejects a kind under the wrong apiVersion, an unknown kind, and an object without metadata", () => {
    expect(schemaErrors({ ...goodDeployment(), apiVersion: "extensions/v1beta1" })).toEqual([
      "no Kubernetes v1.34.4 schema for 'extensions/v1beta1 Deployment'",
    ]);
    expect(schemaErrors({ apiVersion: "v1", kind: "Nonsense", metadata: { name: "x" } })[0]).toMatch(
      /no Kubernetes/,
    );
    const s = goodService();
    delete s.metadata;
    expect(schemaErrors(s)).toEqual(["/: must have required property 'metadata'"]);
  });
});
