import { failureMessage, run } from "@khw/host-io";

export { type RunOptions, type RunResult, run, sleep } from "@khw/host-io";

/** Like run, but a non-zero exit becomes an Error carrying the command and its last stderr lines. */
export async function runOk(
  file: string,
  args: readonly string[],
  options: Parameters<typeof run>[2] = {},
): Promise<string> {
  const result = await run(file, args, options);
  if (result.code !== 0) throw new Error(failureMessage(file, args, result, 5));
  return result.stdout;
}
