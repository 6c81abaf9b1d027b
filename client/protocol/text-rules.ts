/**
 * Making what peers send safe to print (SECURITY.md §15.5). Text bodies may carry any
 * characters (app-message.ts); a terminal must never receive a peer's escape sequences,
 * C0/C1 controls or bidirectional overrides, which could restyle the screen, move the cursor,
 * hide text or make it read in another order. The wire's sanitizeText (src/wire/schema.ts)
 * decides what is unprintable; this module keeps line breaks and prints the rest through it.
 */
import { sanitizeText } from "../../src/wire/schema.js";

/** Spaces a tab becomes when displayed. */
export const TAB_WIDTH = 4;

/** Unbounded, for sanitizeText: a body is already bounded by MAX_TEXT_BODY_BYTES. */
const NO_CUT = Number.MAX_SAFE_INTEGER;

/**
 * A received text body as it may be printed: line breaks (`\r\n`, `\r`, `\n`, U+2028, U+2029)
 * become `\n`, a tab becomes TAB_WIDTH spaces, and every other control character, bidi
 * override or isolate (and any lone surrogate) becomes "?" (sanitizeText). The result
 * contains no character below U+0020 other than `\n`.
 */
export function displayText(body: string): string {
  return body
    .replace(/\r\n?|[\u2028\u2029]/g, "\n")
    .replace(/\t/g, " ".repeat(TAB_WIDTH))
    .split("\n")
    .map((line) => sanitizeText(line, NO_CUT))
    .join("\n");
}

/**
 * How a sender is named on screen: `Display Name (@username)`, or `@username` without a
 * display name. The username, which the relay authenticates and identity keys are pinned to,
 * is always shown, so a display name cannot pass for another user. The display name is
 * sanitized again (the decoder already refused control characters in it).
 */
export function senderLabel(username: string, displayName?: string): string {
  const name = displayName === undefined ? "" : sanitizeText(displayName, NO_CUT).trim();
  const user = sanitizeText(username, NO_CUT);
  return name === "" ? `@${user}` : `${name} (@${user})`;
}

/** How far a sender's clock may be from the receipt time before both are shown: 5 minutes. */
export const CLOCK_SKEW_TOLERANCE_MS = 5 * 60 * 1000;

/**
 * True when a message's `ts` (the sender's clock) is more than `toleranceMs` away from
 * `receivedAt` (the time the relay reported or this client received it, ms): the client then
 * shows both times, since the sender's clock is the sender's claim and nothing more.
 * Pure: the caller passes both times.
 */
export function clockSkewed(ts: number, receivedAt: number, toleranceMs: number = CLOCK_SKEW_TOLERANCE_MS): boolean {
  return Math.abs(ts - receivedAt) > toleranceMs;
}
