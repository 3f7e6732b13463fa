export * from "./core";
export { clusterJsonSchema } from "./json-schema";
export { ClusterSpecSchema } from "./schema";
export { defaultClusterSpec, loadCluster, parseClusterYaml } from "./yaml";
