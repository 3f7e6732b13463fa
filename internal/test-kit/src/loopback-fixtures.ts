// The fixture set of @khw/kubeconfig's and @khw/systemd-units' golden tests (one set, so both
// packages' golden files describe the same clusters): the default spec, the unusual spec on loopback
// addresses, and a single master.
import { defaultCluster, loopbackUnusualCluster, loopbackUnusualSpec, singleMasterCluster } from "./fixtures";

export { defaultCluster, loopbackUnusualCluster as unusualCluster, singleMasterCluster };

export const UNUSUAL_SPEC = loopbackUnusualSpec();

export const SPECS = { default: defaultCluster, unusual: loopbackUnusualCluster } as const;
