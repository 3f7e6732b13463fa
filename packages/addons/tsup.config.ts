import { defineConfig } from "tsup";
import { khwTsupConfig } from "../../tsup.shared";

// kubernetes-types has no `exports` and no extensions in its own imports: a consumer under
// moduleResolution node16/nodenext cannot resolve `kubernetes-types/apps/v1` (TS2307), and with
// skipLibCheck every object type silently becomes `any`. So its declarations are inlined into ours.
const base = khwTsupConfig();
export default defineConfig({
  ...base,
  dts: {
    ...(typeof base.dts === "object" ? base.dts : {}),
    resolve: [/^kubernetes-types(\/.*)?$/, /^\.\.?\//],
  },
});
