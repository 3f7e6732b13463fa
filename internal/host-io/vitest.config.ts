import { khwVitestConfig } from "../../vitest.shared";

export default khwVitestConfig();
