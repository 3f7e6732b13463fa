import { khwTsupConfig } from "../../tsup.shared";

export default khwTsupConfig();
