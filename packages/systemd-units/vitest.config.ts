import { khwVitestConfig } from "../../vitest.shared";

// Real tools (kubectl, systemd-analyze, etcd, the release binaries) are slow on a loaded 2-core machine.
export default khwVitestConfig({ testTimeout: 120_000 });
