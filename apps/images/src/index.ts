/**
 * @khw/images: the lab's container images built offline from source (no registry) as docker-archive tarballs
 * that `ctr -n k8s.io images import` accepts, tagged with the references khw's manifests and containerd use.
 */
export {
  type BuildLabImagesOptions,
  type BuildLabImagesResult,
  type BuiltLabImage,
  buildLabImages,
  IMAGES_MANIFEST,
  ImagesBuildError,
} from "./build";
export { defaultCacheRoot, defaultImagesCacheDir, imagesCacheKey } from "./cache";
export { type ImageArchive, type ImageSpec, imageArchive, imageConfig, imageLayer } from "./image";
export {
  DEFAULT_LAB_IMAGE_VERSIONS,
  type LabImage,
  type LabImageName,
  type LabImageVersions,
  labImages,
} from "./images";
export { LAB_RUNC_PATH, LAB_RUNC_WRAPPER, LAB_RUNC_WRAPPER_PATH } from "./lab-runtime";
