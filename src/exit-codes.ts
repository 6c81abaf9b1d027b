/**
 * Exit codes of `smsg`, fixed per kind of failure so scripts can branch on them.
 * README.md lists them; never renumber one, only add.
 */
export const EXIT = {
  ok: 0,
  /** Something failed that has no more specific code. */
  failure: 1,
  /** The command line was wrong (unknown command, missing argument). */
  usage: 2,
  /** A check found a mismatch: `smsg vectors verify`. */
  verificationFailed: 3,
} as const;
