import { join } from "node:path";
import { goldenChecker } from "@khw/test-kit/golden";

export const expectGolden = goldenChecker(join(import.meta.dirname, "golden"));
