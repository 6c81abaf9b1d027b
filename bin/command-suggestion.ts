/**
 * The sentence for a first word that names no command: `smsg sned hi` → unknown command "sned":
 * did you mean send? yargs' own suggestion (recommendCommands) never fires here, because the
 * default command (interactive mode) takes the word as an unknown argument first.
 */

/** Edit distance (insert, delete, substitute, swap two neighbours: the usual typing slips). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The command closest to `word`, if it is close enough to be a slip (at most 2 edits, fewer than half the word). */
export function closestCommand(word: string, commands: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of commands) {
    const n = distance(word.toLowerCase(), c);
    if (n < bestDistance) [best, bestDistance] = [c, n];
  }
  return bestDistance <= Math.min(2, Math.floor((word.length - 1) / 2) + 1) ? best : undefined;
}

/**
 * The usage sentence when `args` starts with a word that is no command (nor an option), else
 * undefined. `known` is every command word, and `help`, which yargs itself answers.
 */
export function unknownCommandSentence(args: readonly string[], known: readonly string[]): string | undefined {
  const first = args[0];
  if (first === undefined || first.startsWith("-") || known.includes(first)) return undefined;
  const shown = /^[\x21-\x7e]{1,40}$/.test(first) ? `"${first}"` : "(an unprintable word)";
  const suggestion = closestCommand(first, known);
  return `unknown command ${shown}${suggestion ? `: did you mean ${suggestion}?` : ""} (smsg --help lists the commands)`;
}
