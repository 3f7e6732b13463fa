import { clusterJsonSchema } from "@khw/spec";
import type { Command } from "commander";
import type { Io } from "../io";

export function registerSchema(program: Command, io: Io): void {
  program
    .command("schema")
    .description("Print the JSON Schema of cluster.yaml (for editors and other tooling)")
    .action(() => {
      io.stdout(`${JSON.stringify(clusterJsonSchema(), null, 2)}\n`);
    });
}
