// The working directory beside cluster.yaml: PKI, encryption key, bootstrap token, khw up's state and logs.
export { currentSeams, resetSeamsForTests, type Seams, seededRandom, setSeamsForTests } from "./seams";
export {
  describePkiChanges,
  newBootstrapToken,
  readPkiDir,
  readWorkdir,
  syncWorkdir,
  type WorkdirPaths,
  type WorkdirReport,
  type WorkdirSecrets,
  type WorkdirState,
  workdirPaths,
} from "./workdir";
