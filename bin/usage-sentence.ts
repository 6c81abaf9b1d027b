/**
 * One sentence for each command-line mistake yargs reports itself (too few words, an unknown
 * subcommand, an extra word, an unknown flag), naming the command and its usage line, instead of
 * yargs' own "Not enough non-option arguments: got 0, need at least 1", which says neither.
 * Anything else yargs says passes through unchanged.
 */

/**
 * The sentence for yargs' failure message `msg`, given the usage line of the command that failed
 * as yargs writes it (`$0 device remove <id>`; undefined when unknown) and the words the user typed.
 */
export function usageSentence(msg: string, usageLine: string | undefined, args: readonly string[]): string {
  if (usageLine === undefined) return msg;
  const usage = usageLine.replace(/^\$0\b/, "smsg").trim();
  // The command's own words: `smsg device remove <id> [x]` → "smsg device remove".
  const words = usage.split(/\s+/).filter((w) => !/^[<[]/.test(w));
  if (words.length < 2) return msg; // the top level: its own sentences (bin/smsg.ts) already say it
  const command = words.slice(1).join(" "); // the sentence is printed after "smsg: "
  const tooFew = /^Not enough non-option arguments: got \d+, need at least \d+$/.test(msg);
  if (tooFew) return `${command} needs more arguments; usage: ${usage}`;
  const suggestion = /^Did you mean (\S+)\?$/.exec(msg);
  if (suggestion) {
    const typed = args[words.length - 1];
    const shown = typed !== undefined && /^[\x21-\x7e]{1,40}$/.test(typed) ? ` "${typed}"` : "";
    return `unknown subcommand${shown} of ${command}: did you mean ${suggestion[1]}? (smsg ${command} --help lists them)`;
  }
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg);
  if (unknown) {
    const names = unknown[1]!.split(", ");
    const flags = names.filter((n) => args.some((a) => a === `--${n}` || a.startsWith(`--${n}=`) || a === `-${n}`));
    if (flags.length > 0) {
      const flag = args.find((a) => a === `-${flags[0]}`) ?? `--${flags[0]}`;
      return `unknown option ${flag} for ${command} (smsg ${command} --help lists its options)`;
    }
    const shown = /^[\x21-\x7e]{1,40}$/.test(names[0]!) ? `"${names[0]}"` : "(an unprintable word)";
    return `unexpected argument ${shown} for ${command}; usage: ${usage}`;
  }
  return msg;
}

/**
 * The usage line of the failing command from the third argument yargs 18 passes its `fail`
 * handler (its usage object, whose getUsage() lists `[line, description]` pairs); undefined when
 * that object is not what it was, so a yargs upgrade falls back to yargs' own words.
 */
export function usageLineOf(usage: unknown): string | undefined {
  const getUsage = (usage as { getUsage?: unknown } | null)?.getUsage;
  if (typeof getUsage !== "function") return undefined;
  const lines: unknown = getUsage.call(usage);
  const first = Array.isArray(lines) ? (lines[0] as unknown) : undefined;
  const line = Array.isArray(first) ? (first[0] as unknown) : undefined;
  return typeof line === "string" && line.startsWith("$0") ? line : undefined;
}
