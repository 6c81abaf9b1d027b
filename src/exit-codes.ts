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
  /** No profile (or no account in it): join first. */
  noProfile: 4,
  /** `smsg join` would overwrite an existing profile. */
  profileExists: 5,
  /** The passphrase does not unlock the profile (nothing was changed). */
  wrongPassphrase: 6,
  /** The profile needs a passphrase and none was given (SMSG_PASSPHRASE, --passphrase-file, a terminal). */
  passphraseRequired: 7,
  /** The relay cannot be reached (a message that was queued is sent by the next command that reaches it). */
  relayUnreachable: 8,
  /** The relay refused the login: this profile's keys are not the account's. */
  loginFailed: 9,
  /** The relay's operator disabled this account. */
  accountDisabled: 10,
  /** The invite link is malformed, unknown, used up or expired. */
  inviteInvalid: 11,
  /** The username is taken or not allowed on this relay. */
  usernameTaken: 12,
  /** The relay has no such user, or its operator disabled that user's account. */
  userUnknown: 13,
  /** No chat matches the CHAT argument (or several do). */
  chatNotFound: 14,
  /** The chat is closed: reopen it first. */
  chatClosed: 15,
  /** The user is not a member of the chat, or not allowed to do this in it. */
  notAMember: 16,
  /** A contact's identity key changed: verify or accept it first (`smsg verify USER`). */
  keyChanged: 17,
  /** The relay asks to slow down (too many requests or failed logins). */
  rateLimited: 18,
  /** This version cannot do that. */
  notSupported: 19,
  /** The machine's storage failed under the profile (disk full, read-only, damaged database); nothing was changed. */
  storage: 20,
  /**
   * The relay's address answered but does not hold the relay key this profile (or the invite
   * link) pinned: possible impersonation, or the operator changed the key. Not retried.
   */
  relayKeyMismatch: 21,
} as const;
