/**
 * The values RelayStore takes and returns. Ids are numbers (bigserial values stay far below
 * 2^53); byte strings are Uint8Array; times are Date. Hashes are SHA-256 (32 bytes).
 */

/** A member's role in a chat. */
export type Role = "admin" | "member";

/** A chat between exactly two accounts, or a group. */
export type ChatKind = "direct" | "group";

/** An account as stored. `username` is the lower-case form. */
export interface Account {
  readonly id: number;
  readonly username: string;
  /** SHA-256 of the account's 32-byte credential; compare in constant time. */
  readonly credentialHash: Uint8Array;
  /** The 128-byte IdentityPublic (SECURITY.md §4.1). */
  readonly identity: Uint8Array;
  readonly isAdmin: boolean;
  readonly disabled: boolean;
  readonly createdAt: Date;
}

/** An invite as stored (the code itself is never stored, only its hash). */
export interface Invite {
  readonly id: number;
  readonly codeHash: Uint8Array;
  readonly usesLeft: number;
  readonly expiresAt: Date | null;
  readonly grantsAdmin: boolean;
  readonly createdBy: number | null;
  readonly createdAt: Date;
}

/** A signed prekey (SECURITY.md §4.2): 32-bit id, X25519 public key, Ed25519 signature. */
export interface SignedPrekey {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

/** A one-time prekey (SECURITY.md §4.2): 32-bit id and X25519 public key. */
export interface OneTimePrekey {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
}

/** What an initiator needs for X3DH with one device of `accountId` (SECURITY.md §4.2 "bundle", §17.8). */
export interface PrekeyBundle {
  readonly accountId: number;
  /** The device the bundle is of (SECURITY.md §17.8). */
  readonly deviceId: number;
  /** That device's IdentityPublic (for device 1: the account key, §17.1). */
  readonly identity: Uint8Array;
  readonly signedPrekey: SignedPrekey;
  /** Handed out to this caller only, and already deleted; undefined when none were left. */
  readonly oneTimePrekey: OneTimePrekey | undefined;
}

/** Input of RelayStore.createAccountWithInvite. */
export interface NewAccount {
  readonly inviteCodeHash: Uint8Array;
  /** Stored in lower case; compared case-insensitively. */
  readonly username: string;
  readonly credentialHash: Uint8Array;
  readonly identity: Uint8Array;
  readonly signedPrekey: SignedPrekey;
  readonly oneTimePrekeys: readonly OneTimePrekey[];
  /** The relay's clock: checked against the invite's expiry and stored as created_at. */
  readonly now: Date;
}

/** Result of RelayStore.createAccountWithInvite. */
export type CreateAccountResult =
  | { readonly ok: true; readonly account: Account }
  | { readonly ok: false; readonly reason: "invite_invalid" | "username_taken" };

/** Input of RelayStore.createInvite. */
export interface NewInvite {
  readonly codeHash: Uint8Array;
  readonly uses: number;
  readonly expiresAt: Date | null;
  readonly grantsAdmin: boolean;
  readonly createdBy: number | null;
}

/** A chat without its members. */
export interface Chat {
  readonly id: number;
  readonly kind: ChatKind;
  readonly closed: boolean;
  readonly createdBy: number | null;
  readonly createdAt: Date;
}

/** A member of a chat. */
export interface Member {
  readonly accountId: number;
  readonly username: string;
  readonly role: Role;
  readonly joinedAt: Date;
  /** The chat's newest message id when the member joined: it may see only messages above it. */
  readonly sinceMessage: number;
}

/** A chat with its members, ordered by account id. */
export interface ChatWithMembers extends Chat {
  readonly members: readonly Member[];
}

/** One send in a RelayStore.insertMessages batch. */
export interface NewMessage {
  readonly chatId: number;
  readonly senderId: number;
  /** Set for a directed envelope meant for that one member only. */
  readonly recipientId: number | null;
  /** The sender's 16-byte idempotency id. */
  readonly idem: Uint8Array;
  /** The ciphertext envelope, opaque to the relay. */
  readonly envelope: Uint8Array;
}

/**
 * Why a send was refused. The relay maps these to wire error codes: chat_unknown → CHAT_UNKNOWN,
 * chat_closed → CHAT_CLOSED, not_member → CHAT_UNKNOWN (the sender must not learn more),
 * recipient_not_member → NOT_A_MEMBER, idem_conflict → IDEMPOTENCY_CONFLICT.
 */
export type InsertFailure = "chat_unknown" | "chat_closed" | "not_member" | "recipient_not_member" | "idem_conflict";

/** The outcome of one send: stored (or already stored earlier: `duplicate`), or refused. */
export type InsertResult =
  | { readonly ok: true; readonly id: number; readonly createdAt: Date; readonly duplicate: boolean }
  | { readonly ok: false; readonly reason: InsertFailure };

/** A stored message as a recipient receives it. */
export interface StoredMessage {
  readonly id: number;
  readonly chatId: number;
  readonly senderId: number;
  readonly recipientId: number | null;
  readonly envelope: Uint8Array;
  readonly createdAt: Date;
}

/**
 * A device of an account (SECURITY.md §17.1, §17.8), removed or not: rows are never deleted,
 * so an id once listed is never handed out again.
 */
export interface Device {
  readonly accountId: number;
  /** u32 ≥ 1; device 1 is the account key itself. */
  readonly deviceId: number;
  /** The device's 128-byte IdentityPublic (§4.1), exactly as its list entry carries it. */
  readonly identity: Uint8Array;
  /** SHA-256 of the device's credential; null while it is listed but not registered yet. */
  readonly credentialHash: Uint8Array | null;
  readonly createdAt: Date;
  /** When it last logged in or closed a connection; null: never (or not since migration 6). */
  readonly lastSeenAt: Date | null;
  /** When a published list left it out; null while it is a current device. */
  readonly removedAt: Date | null;
}

/** An account's current device list (§17.3) as it signed it. */
export interface StoredDeviceList {
  readonly accountId: number;
  readonly version: number;
  /** The encoded, signed DeviceList (at most 3 247 bytes). */
  readonly list: Uint8Array;
  readonly updatedAt: Date;
}

/** Input of RelayStore.storeDeviceList: a list the caller already decoded and verified (§17.3, §17.2). */
export interface NewDeviceList {
  readonly accountId: number;
  readonly version: number;
  readonly list: Uint8Array;
  /** The list's entries: id and the 128-byte encoded device IdentityPublic, ids ascending. */
  readonly devices: readonly { readonly id: number; readonly identity: Uint8Array }[];
  /**
   * Who publishes it: a logged-in device of the account (which must be in the stored list and
   * may leave itself out), or "add_one" for a connection that holds no device of the account
   * (after passphrase_login, SECURITY.md §18.6), whose list must keep every current device and
   * add exactly one.
   */
  readonly by: { readonly device: number } | "add_one";
  readonly now: Date;
}

/**
 * Result of RelayStore.storeDeviceList. Refusals change nothing:
 * - stale: the version is not above the stored one (a rollback or a replay); `version` is the stored one;
 * - caller_not_listed: the publishing device is not a current device of the account;
 * - not_add_one: ("add_one" only) the list does not keep every current device and add exactly one;
 * - first_without_device_1: an account without a list must keep device 1 in its first one (§17.1);
 * - device_changed: a current or earlier device id comes with other keys than it was listed with;
 * - device_returned: an id that was listed before and removed, or one at or below the highest id
 *   ever listed that was never listed, appears (ids are never reused, §17.1).
 */
export type StoreDeviceListResult =
  | { readonly ok: true; readonly added: readonly number[]; readonly removed: readonly number[] }
  | { readonly ok: false; readonly reason: "stale"; readonly version: number }
  | { readonly ok: false; readonly reason: "caller_not_listed" | "not_add_one" | "first_without_device_1" }
  | { readonly ok: false; readonly reason: "device_changed" | "device_returned"; readonly device: number };

/** Input of RelayStore.registerDevice (`register_device`, SECURITY.md §17.8), its signatures already checked. */
export interface NewDeviceRegistration {
  readonly accountId: number;
  readonly deviceId: number;
  /** The 128-byte IdentityPublic the device registers with: must be the one its list entry carries. */
  readonly identity: Uint8Array;
  readonly credentialHash: Uint8Array;
  readonly signedPrekey: SignedPrekey;
  readonly oneTimePrekeys: readonly OneTimePrekey[];
  readonly now: Date;
}

/**
 * Result of RelayStore.registerDevice. Refusals change nothing:
 * - not_listed: the account's current list does not hold this device with exactly this identity;
 * - registered: the device registered before with another credential (a repeat with the same
 *   credential succeeds again, so a client may retry a registration whose answer it lost).
 */
export type RegisterDeviceResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "not_listed" | "registered" };
