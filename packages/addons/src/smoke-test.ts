import { base64Values } from "./base64";
import { AddonsError } from "./errors";
import {
  type Complete,
  type Deployment,
  MANAGED_BY_LABEL,
  type Pod,
  type Secret,
  type Service,
} from "./objects";

export interface SmokeTestInput {
  /** The NodePort of the nginx Service; must lie in the cluster's node port range. */
  nodePort: number;
  /** Default `docker.io/library/nginx:1.27`. */
  nginxImage?: string;
  /** Default `docker.io/library/busybox:1.28` (later busybox builds' nslookup mishandles search domains). */
  busyboxImage?: string;
  /** Namespace of every smoke-test object; default `default`. */
  namespace?: string;
}

export const SMOKE_TEST_SECRET = "kubernetes-the-hard-way";
export const NGINX_IMAGE = "docker.io/library/nginx:1.27";
export const BUSYBOX_IMAGE = "docker.io/library/busybox:1.28";

export type SmokeTestObject = Complete<Secret> | Complete<Deployment> | Complete<Service> | Complete<Pod>;

/**
 * What "the cluster works" is checked with: the Secret `kubernetes-the-hard-way` (read back from etcd
 * to see `k8s:enc:aescbc:v1:key1`), an nginx Deployment (logs, exec, port-forward), its NodePort
 * Service (answers on every worker), and a busybox pod that resolves `kubernetes` through cluster DNS.
 */
export function smokeTestObjects(input: SmokeTestInput): SmokeTestObject[] {
  if (!(Number.isInteger(input.nodePort) && input.nodePort >= 1 && input.nodePort <= 65535)) {
    throw new AddonsError(
      "INVALID_INPUT",
      "nodePort",
      `${input.nodePort} is not a port`,
      "use one in the node port range",
    );
  }
  const namespace = input.namespace ?? "default";
  const labels = { app: "nginx", ...MANAGED_BY_LABEL };
  return [
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: SMOKE_TEST_SECRET, namespace, labels: { ...MANAGED_BY_LABEL } },
      type: "Opaque",
      data: base64Values({ mykey: "mydata" }),
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "nginx", namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "nginx" } },
        template: {
          metadata: { labels: { app: "nginx" } },
          spec: {
            containers: [
              {
                name: "nginx",
                image: input.nginxImage ?? NGINX_IMAGE,
                ports: [{ containerPort: 80, name: "http", protocol: "TCP" }],
                readinessProbe: { httpGet: { path: "/", port: "http" } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "nginx", namespace, labels },
      spec: {
        type: "NodePort",
        selector: { app: "nginx" },
        ports: [{ name: "http", port: 80, targetPort: "http", nodePort: input.nodePort, protocol: "TCP" }],
      },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "busybox", namespace, labels: { app: "busybox", ...MANAGED_BY_LABEL } },
      spec: {
        containers: [
          { name: "busybox", image: input.busyboxImage ?? BUSYBOX_IMAGE, command: ["sleep", "3600"] },
        ],
        restartPolicy: "Always",
      },
    },
  ];
}
