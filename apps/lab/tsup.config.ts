import { khwTsupConfig } from "../../tsup.shared";

export default khwTsupConfig(["src/index.ts", "src/test-support.ts"]);
