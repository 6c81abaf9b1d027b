/**
 * The errors of the client engine: SmsgErrors with stable codes (src/errors.ts), each one
 * clear sentence the CLI prints as it is (docs/ARCHITECTURE.md §5.2: errors are one clear sentence
 * and a non-zero exit code; client/commands/exit.ts maps each code to its exit code). Local only:
 * the relay never sends these codes.
 */
import { CryptoVerificationError } from "../../crypto/errors.js";
import { SmsgError } from "../../src/errors.js";

/** The relay cannot be reached (refused, timed out, closed during the handshake). Code RELAY_UNREACHABLE. */
export class RelayUnreachableError extends SmsgError {
  constructor(host: string, port: number, reason: string, options?: { cause?: unknown }) {
    super("RELAY_UNREACHABLE", `cannot reach the relay at ${host}:${port} (${reason})`, options);
  }
}

/**
 * A sync reply carried a `held` stub (SECURITY.md §14.7 "Held messages") for a message this
 * device does not hold (its chat was deleted since the `have` was sent, or the relay is broken):
 * the receiver never acks over it and asks again without it. Code HELD_MISSING.
 */
export class HeldMissingError extends SmsgError {
  constructor(chat: number, msg: number) {
    super(
      "HELD_MISSING",
      `the relay left out message ${msg} of chat ${chat} as one this device holds, but it does not: ` +
        "it is not acked, and comes again with the next sync",
    );
  }
}

/**
 * Where the relay key a client pinned came from: the invite link being joined, the relay link of
 * a passphrase log-in (SECURITY.md §18.6), the device link being added (§17.6), or the profile.
 */
export type PinnedKeySource = "invite link" | "relay link" | "device link" | "profile";

/**
 * The relay's address answered, but whoever is there does not hold the relay key the client
 * pinned: it closed the connection after our first Noise message (or answered with a message
 * that does not verify), which is what a relay with another key does (SECURITY.md §10.3).
 * Either someone is impersonating the relay or its operator replaced its key; retrying cannot
 * fix either, and nothing was sent. Code RELAY_KEY_MISMATCH.
 */
export class RelayKeyMismatchError extends SmsgError {
  constructor(host: string, port: number, fingerprint: string, from: PinnedKeySource, options?: { cause?: unknown }) {
    super(
      "RELAY_KEY_MISMATCH",
      from !== "profile"
        ? `the relay at ${host}:${port} does not hold the key in this ${from} (fingerprint ${fingerprint}): ` +
            "the link was mistyped or altered, or someone is impersonating the relay; " +
            "copy the link again or ask the relay's operator for a new one"
        : `the relay at ${host}:${port} does not hold the key this profile pinned (fingerprint ${fingerprint}): ` +
            "someone may be impersonating it, or its operator changed its key; nothing was sent: " +
            "compare the fingerprint with the one the operator's relay prints at start, " +
            "and if the key was changed on purpose join again with a new invite",
      options,
    );
  }
}

/**
 * A message was encrypted and queued, but the relay could not be reached to send it: it stays
 * in the outbox and the next command that reaches the relay sends it. Code QUEUED_OFFLINE.
 */
export class QueuedOfflineError extends SmsgError {
  /** The local id of the queued message. */
  readonly messageId: number;
  constructor(host: string, port: number, messageId: number, options?: { cause?: unknown }) {
    super(
      "QUEUED_OFFLINE",
      `cannot reach the relay at ${host}:${port}: ` +
        `message #${messageId} is queued and the next smsg command that reaches the relay sends it`,
      options,
    );
    this.messageId = messageId;
  }
}

/** The profile folder holds a keystore but no account: join never completed. Code NOT_JOINED. */
export class NotJoinedError extends SmsgError {
  constructor(dir: string) {
    super(
      "NOT_JOINED",
      `the profile in ${dir} has no account: its join did not complete; delete the folder and join again`,
    );
  }
}

/** The relay refused the login (unknown account, wrong credential or signature). Code LOGIN_FAILED. */
export class LoginFailedError extends SmsgError {
  constructor(username: string, options?: { cause?: unknown }) {
    super(
      "LOGIN_FAILED",
      `the relay refused the login as ${username}: this profile's keys are not the account's`,
      options,
    );
  }
}

/**
 * The relay presents a different identity key for a contact than the one pinned on first use
 * (SECURITY.md §1, §9; docs/ARCHITECTURE.md §3.5). Nothing is sent to them until the user runs
 * `smsg verify USER --confirm` (after comparing safety numbers) or `--accept-new-key`.
 * Code KEY_CHANGED.
 */
export class KeyChangedError extends SmsgError {
  /** The contact whose key changed. */
  readonly username: string;
  constructor(username: string) {
    super(
      "KEY_CHANGED",
      `${username}'s identity key changed: nothing is sent to them until you compare safety numbers ` +
        `(smsg verify ${username}) and run smsg verify ${username} --confirm, or --accept-new-key`,
    );
    this.username = username;
  }
}

/**
 * The chat is closed: nothing can be sent until it is reopened. Code CHAT_CLOSED. `canReopen`
 * false (a group we do not administer: only its admins may reopen it) says so instead of
 * suggesting a reopen that would be refused.
 */
export class ChatClosedError extends SmsgError {
  constructor(chatId: number, canReopen = true) {
    super(
      "CHAT_CLOSED",
      canReopen
        ? `chat ${chatId} is closed: reopen it (smsg chat reopen ${chatId}) before sending`
        : `chat ${chatId} is closed by its admins: nothing can be sent until one of them reopens it`,
    );
  }
}

/**
 * We are no longer a member of a group: we left it, or were removed (SECURITY.md §15.4.6).
 * `message` says which and by whom (group/departure.ts departureSentence). Code NOT_A_MEMBER.
 */
export class NotGroupMemberError extends SmsgError {
  constructor(message: string) {
    super("NOT_A_MEMBER", message);
  }
}

/** Only an admin of the group may do this. Code NOT_CHAT_ADMIN. */
export class NotChatAdminError extends SmsgError {
  constructor(chatId: number, what: "change its members" | "close" | "reopen" = "change its members") {
    const action = what === "change its members" ? what : `${what} it`;
    super("NOT_CHAT_ADMIN", `you are not an admin of chat ${chatId}: only its admins can ${action}`);
  }
}

/** The relay knows no such user. Code USER_UNKNOWN. */
export class UserUnknownError extends SmsgError {
  constructor(username: string) {
    super("USER_UNKNOWN", `the relay has no user named ${username}`);
  }
}

/** The user named in the command is not a member of the chat. Code NOT_A_MEMBER, as the relay's. */
export class NotAMemberError extends SmsgError {
  constructor(username: string, chatId: number) {
    super("NOT_A_MEMBER", `${username} is not a member of chat ${chatId}`);
  }
}

/**
 * A device the account's accepted device list does not hold (SECURITY.md §17.4: never encrypt
 * to it, nor accept anything from it). A CryptoVerificationError, so a received envelope from
 * such a device is refused exactly like one that does not decrypt (sessions.ts isDecryptFailure).
 */
export class UnlistedDeviceError extends CryptoVerificationError {
  readonly username: string;
  readonly device: number;
  constructor(username: string, device: number) {
    super(`device ${device} of ${username} is not in ${username}'s device list`);
    this.username = username;
    this.device = device;
  }
}
