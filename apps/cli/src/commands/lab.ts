import type { Command } from "commander";
import type { Io } from "../io";

/** Registers the `lab` command(s). */
export function registerLab(_program: Command, _io: Io): void {}
