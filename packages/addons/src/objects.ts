import type { DaemonSet, Deployment } from "kubernetes-types/apps/v1";
import type { CertificateSigningRequest } from "kubernetes-types/certificates/v1";
import type { ConfigMap, Namespace, Pod, Secret, Service, ServiceAccount } from "kubernetes-types/core/v1";
import type { ObjectMeta } from "kubernetes-types/meta/v1";
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-types/rbac/v1";

/** A kubernetes-types object with apiVersion, kind and a named metadata set, as every khw object has. */
export type Complete<T extends { apiVersion?: string; kind?: string; metadata?: ObjectMeta }> = T &
  Required<Pick<T, "apiVersion" | "kind">> & { metadata: ObjectMeta & { name: string } };

/** Every kind of object khw applies to a cluster. */
export type KubeObject =
  | Complete<Namespace>
  | Complete<ServiceAccount>
  | Complete<ClusterRole>
  | Complete<ClusterRoleBinding>
  | Complete<Role>
  | Complete<RoleBinding>
  | Complete<ConfigMap>
  | Complete<Secret>
  | Complete<Service>
  | Complete<Deployment>
  | Complete<DaemonSet>
  | Complete<Pod>;

export type {
  CertificateSigningRequest,
  ClusterRole,
  ClusterRoleBinding,
  ConfigMap,
  DaemonSet,
  Deployment,
  Namespace,
  ObjectMeta,
  Pod,
  Role,
  RoleBinding,
  Secret,
  Service,
  ServiceAccount,
};

export const RBAC_API_GROUP = "rbac.authorization.k8s.io";
/** A label on every object khw applies, so they can be listed (and pruned) together. */
export const MANAGED_BY_LABEL = { "app.kubernetes.io/managed-by": "khw" } as const;
