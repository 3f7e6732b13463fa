#!/usr/bin/env node
// Runs the khw CLI straight from the TypeScript sources (no build): `pnpm khw <command>`.
// Workspace packages resolve to their sources through the root tsconfig's paths.
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
// pnpm runs scripts in the workspace root; act in the directory the user ran `pnpm khw` from.
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
await import("../apps/cli/src/bin.ts");
