/**
 * Usernames (SECURITY.md §14.5): 3 to 32 characters of lowercase ASCII letters, digits, '_', '.'
 * and '-', starting with a letter or digit. People may type any case: the canonical form is the
 * input with ASCII A–Z lowercased, and only that form is validated, stored and compared.
 * Only ASCII is lowercased, so no Unicode case folding (the Kelvin sign "K" becomes "k" under
 * toLowerCase) can turn a look-alike into a valid name.
 */
import { UsageError } from "../errors.js";

/** The canonical form every username matches. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{2,31}$/;
/** Shortest username, in characters. */
export const USERNAME_MIN_LENGTH = 3;
/** Longest username, in characters (and bytes: usernames are ASCII). */
export const USERNAME_MAX_LENGTH = 32;
/** The rule in words, for error messages. */
export const USERNAME_RULE = "a username: 3 to 32 of a-z, 0-9, '_', '.', '-', starting with a letter or digit";

/** True when `name` is already a canonical username (lowercase, matching USERNAME_PATTERN). */
export function isValidUsername(name: string): boolean {
  return name.length <= USERNAME_MAX_LENGTH && USERNAME_PATTERN.test(name);
}

/** The canonical form of `input` (ASCII A–Z lowercased), or undefined when it is not valid. */
export function tryNormalizeUsername(input: string): string | undefined {
  if (input.length > USERNAME_MAX_LENGTH) return undefined;
  const lower = input.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  return USERNAME_PATTERN.test(lower) ? lower : undefined;
}

/**
 * The canonical form of a username as typed: ASCII A–Z lowercased, then checked.
 * Throws UsageError, saying the rule, when the result is not a valid username.
 */
export function normalizeUsername(input: string): string {
  const name = tryNormalizeUsername(input);
  if (name === undefined) throw new UsageError(`invalid username: expected ${USERNAME_RULE}`);
  return name;
}
