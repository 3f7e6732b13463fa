import type { Command } from "commander";
import { UsageError } from "../errors";
import type { Io } from "../io";

/** One node of the command tree as the completion scripts need it. */
interface Node {
  path: string[];
  subcommands: string[];
  flags: string[];
}

function walk(cmd: Command, path: string[] = []): Node[] {
  const flags = [...cmd.options.flatMap((o) => [o.short, o.long]), "--help"].filter(
    (f): f is string => typeof f === "string",
  );
  const node: Node = { path, subcommands: cmd.commands.map((c) => c.name()), flags: [...new Set(flags)] };
  return [node, ...cmd.commands.flatMap((c) => walk(c, [...path, c.name()]))];
}

const shellWord = (s: string) => s.replace(/[^A-Za-z0-9_.:/=-]/g, "");

/** bash: the words typed so far select a node of the tree; its sub-commands and flags are offered. */
export function bashCompletion(root: Command): string {
  const cases = walk(root)
    .map(
      (n) =>
        `    "${n.path.join(" ")}") words="${[...n.subcommands, ...n.flags].map(shellWord).join(" ")}" ;;`,
    )
    .join("\n");
  return `# khw completion for bash: source it, or put it in /etc/bash_completion.d/khw
_khw() {
  local cur path="" w i words=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case " $(_khw_words "$path") " in *" $w "*) path="\${path:+$path }$w" ;; esac
  done
  COMPREPLY=($(compgen -W "$(_khw_words "$path")" -- "$cur"))
}
_khw_words() {
  local words=""
  case "$1" in
${cases}
  esac
  echo "$words"
}
complete -o default -F _khw khw
`;
}

/** zsh: the bash function through bashcompinit (as many Go and Node CLIs ship it). */
export function zshCompletion(root: Command): string {
  return `#compdef khw
# khw completion for zsh: put it on $fpath as _khw, or source it
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(root).replace(/^# .*\n/, "")}`;
}

/** fish: one `complete` line per sub-command and flag, conditioned on the words seen so far. */
export function fishCompletion(root: Command): string {
  const lines = [
    "# khw completion for fish: save as ~/.config/fish/completions/khw.fish",
    "complete -c khw -f",
  ];
  for (const n of walk(root)) {
    const cond =
      n.path.length === 0
        ? "__fish_use_subcommand"
        : `__fish_seen_subcommand_from ${shellWord(n.path[n.path.length - 1]!)}`;
    for (const s of n.subcommands) lines.push(`complete -c khw -n '${cond}' -a ${shellWord(s)}`);
    for (const f of n.flags) {
      const arg = f.startsWith("--") ? `-l ${shellWord(f.slice(2))}` : `-s ${shellWord(f.slice(1))}`;
      lines.push(`complete -c khw -n '${cond}' ${arg}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function registerCompletion(program: Command, io: Io): void {
  program
    .command("completion")
    .description("Print a shell completion script for bash, zsh or fish (commands, sub-commands, flags)")
    .argument("<shell>", "bash, zsh or fish")
    .action((shell: string) => {
      const render = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
      if (!render) throw new UsageError(`completion: unknown shell '${shell}'`, "use bash, zsh or fish");
      io.stdout(render(program));
    });
}
