import { defineConfig } from "tsup";
import { khwTsupConfig } from "../../tsup.shared";

// @khw/host-io is private: bundled in; its third-party modules are this package's dependencies.
export default defineConfig({ ...khwTsupConfig(), noExternal: ["@khw/host-io"] });
