import { khwVitestConfig } from "../vitest.shared";

const config = khwVitestConfig({ testTimeout: 30 * 60_000 });
// One lab at a time, tests in file order.
export default {
  ...config,
  test: { ...config.test, fileParallelism: false, sequence: { concurrent: false } },
};
