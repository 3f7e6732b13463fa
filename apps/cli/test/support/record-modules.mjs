// `node --import ./record-modules.mjs …`: appends the URL of every module the process loads to the file
// named by KHW_RECORD_MODULES (module customization hooks, which run for every import and require).
import { register } from "node:module";

register(
  `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.KHW_RECORD_MODULES) appendFileSync(process.env.KHW_RECORD_MODULES, r.url + "\\n");
  return r;
}`)}`,
);
