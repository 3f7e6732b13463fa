import type { Command } from "commander";
import type { Io } from "../io";

/** Registers the `gen` command(s). */
export function registerGen(_program: Command, _io: Io): void {}
