import type { Command } from "commander";
import type { Io } from "../io";

/** Registers the `bundle` command(s). */
export function registerBundle(_program: Command, _io: Io): void {}
