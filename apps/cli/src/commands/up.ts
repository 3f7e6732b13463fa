import type { Command } from "commander";
import type { Io } from "../io";

/** Registers the `up` command(s). */
export function registerUp(_program: Command, _io: Io): void {}
