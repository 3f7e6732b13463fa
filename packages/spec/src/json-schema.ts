import { z } from "zod";
import { ClusterSpecSchema } from "./schema";

/** The JSON Schema of cluster.yaml (what a user may write: defaults optional), for editors. */
export function clusterJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://unpkg.com/@khw/spec/cluster.schema.json",
    ...z.toJSONSchema(ClusterSpecSchema, { io: "input", target: "draft-2020-12", unrepresentable: "any" }),
  };
}
