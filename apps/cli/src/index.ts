export { CliError, EXIT, UsageError } from "./errors";
export { type Io, processIo } from "./io";
export { buildProgram, main } from "./main";
