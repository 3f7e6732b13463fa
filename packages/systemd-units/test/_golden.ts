import { join } from "node:path";
// The golden-file checker is shared with @khw/kubeconfig's tests; only the directory differs.
import { goldenChecker } from "../../kubeconfig/test/_golden";

export const expectGolden = goldenChecker(join(import.meta.dirname, "golden"));
