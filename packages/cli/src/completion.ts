/**
 * `press completion bash|zsh|fish`: a completion script generated from the command tree itself, so it never
 * drifts from the flags `press --help` shows. Completes commands, subcommands and flags (and files by default).
 */
import type { Command } from 'commander';
import { usageError } from './errors.js';

interface Node {
  /** the words of the command, e.g. ["jobs", "list"] */
  path: string[];
  subcommands: string[];
  flags: string[];
}

function walk(cmd: Command, path: string[] = []): Node[] {
  const flags = [...cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)), '--help'];
  const subs = cmd.commands.filter((c) => c.name() !== 'help');
  return [{ path, subcommands: subs.map((c) => c.name()), flags }, ...subs.flatMap((c) => walk(c, [...path, c.name()]))];
}

function bash(nodes: Node[]): string {
  // longest paths first, so "jobs list" wins over "jobs"
  const cases = [...nodes]
    .sort((a, b) => b.path.length - a.path.length)
    .map((n) => {
      const pattern = n.path.length ? `"${n.path.join(' ')}"|"${n.path.join(' ')} "*` : '*';
      return `    ${pattern}) words="${[...n.subcommands, ...n.flags].join(' ')}" ;;`;
    });
  return `# press completion for bash: eval "$(press completion bash)" (e.g. in ~/.bashrc)
_press_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w words
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) path="\${path:+$path }$w" ;; esac
  done
  case "$path" in
${cases.join('\n')}
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -o default -F _press_complete press
`;
}

function fish(nodes: Node[]): string {
  const lines = ['# press completion for fish: press completion fish > ~/.config/fish/completions/press.fish'];
  for (const n of nodes) {
    const cond = n.path.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`;
    for (const s of n.subcommands) lines.push(`complete -c press -n '${cond}' -a ${s}`);
    for (const f of n.flags) lines.push(f.startsWith('--') ? `complete -c press -n '${cond}' -l ${f.slice(2)}` : `complete -c press -n '${cond}' -s ${f.slice(1)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: string, program: Command): string {
  const nodes = walk(program);
  if (shell === 'bash') return bash(nodes);
  if (shell === 'zsh') return `# press completion for zsh: eval "$(press completion zsh)" (e.g. in ~/.zshrc)\nautoload -U +X bashcompinit && bashcompinit\n${bash(nodes)}`;
  if (shell === 'fish') return fish(nodes);
  throw usageError(`no completion for shell "${shell}" (bash, zsh, fish)`, 'invalid_shell');
}
