import type { Command } from "commander";
import type { Io } from "../io";

/** Registers the `day2` command(s). */
export function registerDay2(_program: Command, _io: Io): void {}
