import { defineConfig } from "tsup";
import { khwTsupConfig } from "../../tsup.shared";

// @khw/host-io is private: bundled in (remote-exec uses its shell quoting only, which has no dependencies).
export default defineConfig({ ...khwTsupConfig(), noExternal: ["@khw/host-io"] });
