import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { goldenFile } from "@khw/test-kit/golden";

export { defaultCluster, unusualCluster } from "@khw/test-kit/fixtures";
export { freePort, Processes, waitFor } from "@khw/test-kit/processes";

export const testDir = dirname(fileURLToPath(import.meta.url));

/** A fixed token and expiry, so golden files are byte-stable. */
export const FIXED_TOKEN = { id: "07401b", secret: "f395accd246ae52d", expiration: "2026-12-01T00:00:00Z" };

/** Compares with test/golden/<name>; `UPDATE_GOLDEN=1` rewrites the file instead. */
export const expectGolden = goldenFile(join(testDir, "golden"));
