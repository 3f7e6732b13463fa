import type { Command } from "commander";
import type { Io } from "../io";

/** The day-2 commands that talk to the hosts over SSH: certs renew, status, reset, smoke. */
export function registerCluster(_program: Command, _certs: Command, _io: Io): void {}
