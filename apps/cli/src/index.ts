export {
  ADMIN_KUBECONFIG_PATH,
  type ArtifactFile,
  type Artifacts,
  filesForHost,
  filesForPhase,
  renderArtifacts,
} from "./artifacts";
export { CliError, EXIT, UsageError } from "./errors";
export {
  type Block,
  buildGuide,
  type Chapter,
  en,
  explainPhase,
  type Guide,
  type GuideText,
  guideHtml,
  guideMarkdown,
  sshCommand,
} from "./guide";
export { type Io, processIo } from "./io";
export { buildProgram, main } from "./main";
export { PHASE_NAMES, PHASES } from "./up/phases";
export { type RunUpOptions, runUp, UpError, type UpResult } from "./up/runner";
export { readWorkdir, syncWorkdir, type WorkdirState } from "./workdir";
