import { mergeConfig } from "vitest/config";
import { khwVitestConfig } from "../../vitest.shared";

// One test file at a time: the build test and the import test both need the lab image set, and two cold
// builds side by side would compile CoreDNS and flanneld twice; in sequence the second is a cache hit.
export default mergeConfig(khwVitestConfig(), { test: { fileParallelism: false } });
