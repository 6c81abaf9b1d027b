/**
 * How a safety number is shown to people, by `smsg verify USER` and by the interactive `/verify`
 * alike (SECURITY.md §9): the number to compare, and what to do next, which depends on where the
 * contact stands. A verified contact is told it is verified and nothing else: asking to confirm
 * again would make the confirmation meaningless.
 */
import type { SafetyNumbers } from "../engine/sessions.js";
import type { ContactRecord } from "../store/index.js";

/** The lines that show `numbers` for `contact` (its key changed, verified, or not verified yet). */
export function safetyNumberLines(user: string, numbers: SafetyNumbers, contact: ContactRecord): string[] {
  if (numbers.pending !== null) {
    return [
      `⚠ ${user}'s identity key CHANGED. Sending to ${user} is blocked until you decide.`,
      `Safety number with ${user}'s NEW key:`,
      numbers.pending,
      `Compare it with ${user} in person or on a call; if it matches: smsg verify ${user} --confirm ` +
        "(or --accept-new-key to take it without comparing)",
    ];
  }
  if (contact.verified) {
    return [
      `Safety number with ${user} (verified):`,
      numbers.pinned,
      `You confirmed this number with ${user} before; nothing more to do.`,
    ];
  }
  return [
    `Safety number with ${user}:`,
    numbers.pinned,
    `Compare it with ${user} in person or on a call; if it matches: smsg verify ${user} --confirm`,
  ];
}
