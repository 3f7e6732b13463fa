import { khwVitestConfig } from "../vitest.shared";

const config = khwVitestConfig({ testTimeout: 30 * 60_000 });
// One lab at a time, tests in file order.
export default {
  ...config,
  test: { ...config.test, hookTimeout: 45 * 60_000, fileParallelism: false, sequence: { concurrent: false } },
};
