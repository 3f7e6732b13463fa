import { khwTsupConfig } from "../../tsup.shared";

// `@khw/spec/quick`: the quick path of a valid spec, which loads no zod (khw validate's start-up).
export default khwTsupConfig(["src/index.ts", "src/quick.ts"]);
