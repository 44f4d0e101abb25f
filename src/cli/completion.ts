// `moat completion bash|zsh`: a shell completion script made from the command tree itself, so a
// new command or flag completes without anyone editing a script. VM names come from the daemon
// (`moat ls --format name`) when a command takes a VM.
import type { Command, Option } from "commander";
import { UsageError } from "./usage-error.js";

/** What completes after `path` (e.g. "token create"): subcommands, flags, whether VMs do. */
interface Node {
  path: string;
  words: string[];
  vms: boolean;
  /** Flags that must have a value: what follows them is a file name or a value, not a word. */
  valued: string[];
  /** Flags whose value is one of a few (`--restart:no,on-failure,always`): those complete. */
  choices: string[];
}

function optionWords(o: readonly Option[]): string[] {
  return o.flatMap((x) => [x.short, x.long].filter((f): f is string => f !== undefined));
}

function nodes(cmd: Command, path: string): Node[] {
  const subs = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
  const opts = cmd.options.filter((o) => !o.hidden);
  const node: Node = {
    path,
    words: [...subs.map((c) => c.name()), ...optionWords(opts), "--help"],
    vms: cmd.registeredArguments.some((a) => /^vm/.test(a.name())),
    valued: optionWords(opts.filter((o) => o.required)),
    choices: opts.flatMap((o) =>
      o.argChoices ? optionWords([o]).map((f) => `${f}:${o.argChoices!.join(",")}`) : [],
    ),
  };
  return [node, ...subs.flatMap((c) => nodes(c, path ? `${path} ${c.name()}` : c.name()))];
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The bash script: `_moat` walks the words typed so far to the (sub)command they name. */
export function bashCompletion(program: Command): string {
  const all = nodes(program, "");
  const cases = all
    .map(
      (n) =>
        `    ${quote(n.path)}) words=${quote(n.words.join(" "))}; vms=${n.vms ? 1 : 0}; ` +
        `valued=${quote(n.valued.join(" "))}; choices=${quote(n.choices.join(" "))} ;;`,
    )
    .join("\n");
  return `# bash completion for moat: source <(moat completion bash), or save it in
# /etc/bash_completion.d/moat. Made by moat ${program.version() ?? ""} from its own commands.
_moat_node() {
  case "$1" in
${cases}
    *) words=""; vms=0; valued=""; choices="" ;;
  esac
}
_moat() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} path="" i w
  local words vms valued choices c
  _moat_node ""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ " $valued " == *" $w "* ]]; then ((i++)); continue; fi
    [[ $w == -* ]] && continue
    local next=\${path:+$path }$w
    if [[ " $words " == *" $w "* ]]; then path=$next; _moat_node "$path"; fi
  done
  for c in $choices; do
    if [[ \${c%%:*} == "$prev" ]]; then
      c=\${c#*:}
      COMPREPLY=($(compgen -W "\${c//,/ }" -- "$cur"))
      return
    fi
  done
  if [[ " $valued " == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ $cur == -* || $vms == 0 ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$("\${COMP_WORDS[0]}" ls --format name 2>/dev/null)" -- "$cur"))
  fi
}
complete -o default -F _moat moat
`;
}

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description(
      "Print a shell completion script for commands, flags and VM names: " +
        "source <(moat completion bash) in ~/.bashrc; zsh: the same with zsh",
    )
    .argument("<shell>", "bash or zsh")
    .action((shell: string) => {
      if (shell !== "bash" && shell !== "zsh")
        throw new UsageError(`completion: bash or zsh, not '${shell}'`);
      // zsh runs bash's completion functions through bashcompinit.
      const zsh = "autoload -U +X bashcompinit && bashcompinit\n";
      process.stdout.write((shell === "zsh" ? zsh : "") + bashCompletion(program));
    });
}
