// Writes cluster.schema.json from the zod schema: `pnpm --filter @khw/spec gen:schema`.
import { writeFileSync } from "node:fs";
import { clusterJsonSchema } from "../src/index";

writeFileSync(
  new URL("../cluster.schema.json", import.meta.url),
  `${JSON.stringify(clusterJsonSchema(), null, 2)}\n`,
);
