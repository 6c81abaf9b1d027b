/**
 * yargs lays out the whole help text of a command right after starting its handler
 * (`cacheHelpMessage`, kept in case the handler fails and help should be shown), although
 * `smsg` never prints help on failure (bin/smsg.ts `.fail`): on a one-shot command that is
 * milliseconds of string-width and wrapping on the start-up path (bench/RESULTS.md "One-shot
 * start-up"). `--help` itself lays the text out when asked, so only the cache is skipped.
 */

/** Turns yargs' help cache off for `cli`; leaves it alone if yargs' internals are not what they were. */
export function skipHelpCache(cli: unknown): void {
  const internal = (cli as { getInternalMethods?: () => { getUsageInstance?: () => unknown } }).getInternalMethods;
  const usage = typeof internal === "function" ? internal.call(cli).getUsageInstance?.() : undefined;
  if (
    usage !== null &&
    typeof usage === "object" &&
    typeof (usage as { cacheHelpMessage?: unknown }).cacheHelpMessage === "function"
  )
    (usage as { cacheHelpMessage: () => void }).cacheHelpMessage = () => {};
}
