export { buildGuide, CHAPTER_PHASES } from "./build";
export { en } from "./chapters/en/index";
export {
  guideContext,
  kubeconfigEntries,
  kubectlConfigCommands,
  opensslCommands,
  SECRET_VARS,
  sshCommand,
} from "./derive";
export { explainPhase } from "./explain";
export { FAILURE_MODES } from "./failure-modes";
export { guideHtml } from "./html";
export { guideMarkdown } from "./markdown";
export type { Block, Chapter, Guide } from "./model";
export type { GuideText } from "./text";
