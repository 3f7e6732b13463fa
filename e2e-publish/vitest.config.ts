import { defineConfig } from "vitest/config";

// Not aliased to the sources: this suite uses only what was published and installed.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 10 * 60_000,
    hookTimeout: 40 * 60_000,
    fileParallelism: false,
  },
});
