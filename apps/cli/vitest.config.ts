import { mergeConfig } from "vitest/config";
import { khwVitestConfig } from "../../vitest.shared";

// An unhandled rejection or uncaught exception fails the test it happened in.
export default mergeConfig(khwVitestConfig(), {
  test: { setupFiles: ["../../packages/remote-exec/test/fail-on-unhandled.ts"] },
});
