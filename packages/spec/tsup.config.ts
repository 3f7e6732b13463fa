import { khwTsupConfig } from "../../tsup.shared";

// `@khw/spec/quick`: the quick path of a valid spec, which loads no zod (khw validate's start-up);
// `@khw/spec/core`: everything that needs no zod (the model, layout, phases, defaults, errors).
export default khwTsupConfig(["src/index.ts", "src/core.ts", "src/quick.ts"]);
