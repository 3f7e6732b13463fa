// The artifacts of a cluster: everything generated from the spec plus the working directory's state.
export {
  ADMIN_KUBECONFIG_PATH,
  type ArtifactFile,
  type Artifacts,
  type FilePhase,
  filesForHost,
  filesForPhase,
  type RenderOptions,
  renderArtifacts,
} from "./artifacts";
export { clusterManifests, MANIFEST_DIR, type Manifest } from "./manifests";
export { TREE_INDEX, type TreeWriteResult, treePath, writeArtifactTree } from "./tree";
