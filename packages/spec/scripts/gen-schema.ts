// Writes cluster.schema.json from the zod schema, and the quick path's check compiled from it
// (src/_quick-check.generated.js): `pnpm --filter @khw/spec gen:schema`.
import { writeFileSync } from "node:fs";
import { clusterJsonSchema } from "../src/index";
import { quickCheckSource } from "./quick-check-source";

const schema = clusterJsonSchema();
writeFileSync(new URL("../cluster.schema.json", import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
writeFileSync(new URL("../src/_quick-check.generated.js", import.meta.url), quickCheckSource(schema));
