/**
 * The records the local store reads and writes (client-store.ts). Secrets appear here in clear:
 * the store seals them on write and opens them on read (sealed.ts). Byte arrays returned by the
 * store are fresh copies the caller may wipe. Times are milliseconds since the epoch.
 */

/** "direct" or "group" (as on the wire). */
export type ChatKind = "direct" | "group";

/** A member's role in a chat (as on the wire). */
export type ChatRole = "admin" | "member";

/** The account of the profile: how to reach the relay and who we are on it. */
export interface AccountRecord {
  readonly relayHost: string;
  readonly relayPort: number;
  /** The relay's Noise static public key, pinned from the invite (32 bytes). */
  readonly relayKey: Uint8Array;
  readonly username: string;
  readonly displayName: string | null;
  /** The random 256-bit login credential (sealed at rest). */
  readonly credential: Uint8Array;
  /** The identity's Ed25519 seed (sealed at rest; SECURITY.md §4.1). */
  readonly signingSeed: Uint8Array;
  /** The identity's X25519 private key (sealed at rest; SECURITY.md §4.1). */
  readonly dhPrivate: Uint8Array;
  readonly createdAt: number;
  /**
   * This device's id in its account (SECURITY.md §17.1). signingSeed and dhPrivate above are
   * this DEVICE's identity; on device 1 that is the account key itself.
   */
  readonly deviceId: number;
  /** The account IdentityPublic (128 bytes) when this is not device 1; null on device 1 (its own identity is the account's). */
  readonly accountIdentity: Uint8Array | null;
  /** The account's Ed25519 seed (sealed at rest): on device 1 a copy of signingSeed. */
  readonly accountSigningSeed: Uint8Array;
  /** The §18.2 backup key kept to refresh the passphrase backup (sealed at rest), or null. */
  readonly backupKey: Uint8Array | null;
}

/**
 * What a device keeps to update the passphrase backup without the passphrase (SECURITY.md
 * §18.6 "Update"), all sealed at rest: the record's backup key, salt, Argon2id parameters and
 * verifier, and the digest of the state last sealed or opened (SHA-256 of the account identity
 * key || the snapshot of §17.6.1).
 */
export interface BackupMaterial {
  /** backup_key of §18.2 (32 bytes). */
  readonly backupKey: Uint8Array;
  /** The record's salt (16 bytes). */
  readonly salt: Uint8Array;
  /** The record's Argon2id parameters. */
  readonly t: number;
  readonly memKiB: number;
  /** The record's verifier (32 bytes), which backup_update names. */
  readonly loginPublic: Uint8Array;
  /** SHA-256 of identity_key || state last sealed or opened (32 bytes). */
  readonly digest: Uint8Array;
}

/** What `account.set` takes: an AccountRecord whose createdAt defaults to now (no backup material: account.setBackupMaterial). */
export type AccountInput = Omit<
  AccountRecord,
  "createdAt" | "deviceId" | "accountIdentity" | "accountSigningSeed" | "backupKey"
> & {
  readonly createdAt?: number;
  /** Default 1: a joined profile (its identity is the account key). */
  readonly deviceId?: number;
  /** Required for a device other than 1, absent for device 1. */
  readonly accountIdentity?: Uint8Array | null;
  /** Required for a device other than 1, absent for device 1. */
  readonly accountSigningSeed?: Uint8Array | null;
};

/** One of our signed prekeys (SECURITY.md §4.2). */
export interface SignedPrekeyRecord {
  readonly id: number;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
  readonly createdAt: number;
  /** The one we publish now; at most one is current. */
  readonly current: boolean;
}

/** One of our one-time prekeys (SECURITY.md §4.2). */
export interface OneTimePrekeyRecord {
  readonly id: number;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Uploaded to the relay. */
  readonly published: boolean;
  readonly createdAt: number;
}

/** A contact: an identity pinned on first use (docs/ARCHITECTURE.md §3.5). */
export interface ContactRecord {
  readonly username: string;
  /** The pinned IdentityPublic (128 bytes, SECURITY.md §4.1). */
  readonly identity: Uint8Array;
  readonly firstSeen: number;
  /** The user compared safety numbers for the pinned identity. */
  readonly verified: boolean;
  /** A different identity was presented and not yet accepted: do not send to this contact. */
  readonly keyChanged: boolean;
  /** That different identity, until accepted (null when keyChanged is false). */
  readonly pendingIdentity: Uint8Array | null;
  readonly keyChangedAt: number | null;
  readonly displayName: string | null;
}

/** What `contacts.pin` did: pinned a new contact, found the same key, or recorded a change. */
export type PinResult = "pinned" | "same" | "changed";

/** A pairwise session with a peer (SECURITY.md §5–§6), as an opaque state blob. */
export interface SessionRecord {
  readonly peer: string;
  /** What identifies the session among the peer's: the X3DH base key. */
  readonly baseKey: Uint8Array;
  /** The encoded session state (sealed at rest). */
  readonly state: Uint8Array;
  /** The session used to send to this peer device; at most one per (peer, device). */
  readonly current: boolean;
  readonly updatedAt: number;
  /** The peer's device this session runs with (SECURITY.md §17.5); 1 for every session made before §17. */
  readonly device: number;
}

/** A chat as the store keeps it. */
export interface ChatRecord {
  /** The relay's chat id. */
  readonly id: number;
  readonly kind: ChatKind;
  /** The other member of a direct chat; null for a group. */
  readonly peer: string | null;
  /** The chat's name (sealed at rest), null when it has none. */
  readonly name: string | null;
  readonly closed: boolean;
  readonly myRole: ChatRole;
  readonly createdAt: number;
  /** The relay message id the user has read up to (0: none). */
  readonly lastReadMsg: number;
  /** A group we are no longer in: we left it, or were removed (SECURITY.md §15.4.6); null while a member. */
  readonly departure: Departure | null;
  /** Who removed us, when known (an admin's signed state, or the relay's event); null otherwise. */
  readonly departedBy: string | null;
  /** Our current membership of a group starts after this local message id (0: from the start). */
  readonly memberSince: number;
  /** A group whose first state (epoch 1) listed us: numbers count from 1, not from each sender's first message. */
  readonly seqFromOne: boolean;
}

/** How we stopped being a member of a group. */
export type Departure = "left" | "removed";

/** A chat in a listing, with what a chat list shows. */
export interface ChatListItem extends ChatRecord {
  /** Incoming messages with a relay id above lastReadMsg. */
  readonly unread: number;
  /** The local id of the newest message, or null when there is none. */
  readonly lastMessageId: number | null;
}

/** What `chats.upsert` takes. `name` undefined keeps the stored name; null removes it. */
export interface ChatInput {
  readonly id: number;
  readonly kind: ChatKind;
  readonly peer?: string | null;
  readonly name?: string | null;
  readonly closed?: boolean;
  readonly myRole: ChatRole;
  readonly createdAt?: number;
}

/** A member of a chat. */
export interface MemberRecord {
  readonly username: string;
  readonly role: ChatRole;
  /** An admin's end-to-end signed announcement of this member was seen. */
  readonly announced: boolean;
}

/** What `members.set` takes: `announced` undefined keeps a member's stored flag (false if new). */
export interface MemberInput {
  readonly username: string;
  readonly role: ChatRole;
  readonly announced?: boolean;
}

/** Where a message stands. */
export type MessageStatus = "pending" | "sent" | "delivered" | "failed" | "undecryptable";

/** "in": received; "out": sent by us. */
export type MessageDirection = "in" | "out";

/** A message of the history. */
export interface MessageRecord {
  /** Local id (increases in insertion order). */
  readonly id: number;
  readonly chatId: number;
  /** The relay's message id; null for an outgoing message not yet acknowledged. */
  readonly relayMsgId: number | null;
  readonly sender: string;
  /** The relay's time of the message (for an outgoing one not yet acknowledged: when it was written). */
  readonly sentAt: number;
  /** The sender's clock when it wrote a text message (inside the encryption); null without text. */
  readonly senderTs: number | null;
  /** The decrypted text (sealed at rest); null when there is none (undecryptable). */
  readonly body: string | null;
  readonly direction: MessageDirection;
  readonly status: MessageStatus;
  /** The sender's in-message sequence number, when the message had one. */
  readonly senderSeq: number | null;
  /** When this store wrote it. */
  readonly storedAt: number;
  /** The sending device (SECURITY.md §17.5): 1 for a one-device sender and every row stored before §17. */
  readonly senderDevice: number;
}

/** What `messages.insert` takes. */
export interface MessageInput {
  readonly chatId: number;
  readonly relayMsgId?: number | null;
  readonly sender: string;
  readonly sentAt: number;
  readonly body: string | null;
  readonly direction: MessageDirection;
  readonly status: MessageStatus;
  readonly senderSeq?: number | null;
  readonly senderTs?: number | null;
  /** The sending device (SECURITY.md §17.5); default 1. */
  readonly senderDevice?: number;
}

/** What `messages.insert` returns: the local id, and false when (chat, relay id) was already stored. */
export interface InsertedMessage {
  readonly id: number;
  readonly inserted: boolean;
}

/** One page of history: oldest first; `more` when older messages exist before the first. */
export interface HistoryPage {
  readonly messages: readonly MessageRecord[];
  readonly more: boolean;
}

/** One per-device copy of an outbox entry sent with `send_copies` (SECURITY.md §17.8). */
export interface OutboxCopy {
  /** The account it is for. */
  readonly to: string;
  readonly device: number;
  readonly envelope: Uint8Array;
}

/** An envelope (or a set of per-device copies) waiting to be sent, or re-sent with the same idempotency id. */
export interface OutboxRecord {
  /** The 16-byte idempotency id the relay deduplicates on. */
  readonly idem: Uint8Array;
  readonly chatId: number;
  /** The local message this envelope carries, if any (a sender-key hand-over carries none). */
  readonly messageId: number | null;
  /** The one envelope of a `send`, or null when the entry goes as `copies` (send_copies). */
  readonly envelope: Uint8Array | null;
  /** The per-device copies (in order), empty for a `send`. */
  readonly copies: readonly OutboxCopy[];
  /** A 1:1 message's encoded application message, kept to encrypt it again (§17.7 DEVICE_LIST_STALE); else null. */
  readonly app: Uint8Array | null;
  /** The one member it is addressed to, or null for the whole chat. */
  readonly to: string | null;
  readonly createdAt: number;
  readonly attempts: number;
}

/** What `outbox.add` takes. */
export interface OutboxInput {
  readonly idem: Uint8Array;
  readonly chatId: number;
  readonly messageId?: number | null;
  readonly envelope: Uint8Array;
  readonly to?: string | null;
}

/** How a 1:1 message is encrypted: one envelope for `send`, or per-device copies for `send_copies`. */
export type DirectEncryption =
  | { readonly envelope: Uint8Array; readonly copies?: undefined }
  | { readonly envelope?: undefined; readonly copies: readonly OutboxCopy[] };

/** What `outbox.addDirect` takes: a 1:1 message, its application message and how it is encrypted. */
export interface DirectOutboxInput {
  readonly idem: Uint8Array;
  readonly chatId: number;
  readonly messageId: number | null;
  readonly app: Uint8Array;
  readonly encrypted: DirectEncryption;
}

/** A sender key of a chat member (SECURITY.md §7), as an opaque state blob. */
export interface SenderKeyRecord {
  readonly chatId: number;
  readonly sender: string;
  readonly keyId: number;
  /** The encoded sender-key state (sealed at rest). */
  readonly state: Uint8Array;
  /** Ours (we send with it) rather than a member's. */
  readonly own: boolean;
  readonly createdAt: number;
  /** The sender's device (SECURITY.md §17.5); 1 for every key stored before §17. */
  readonly senderDevice: number;
}

/** What `senderKeys.put` takes. */
export interface SenderKeyInput {
  readonly chatId: number;
  readonly sender: string;
  readonly keyId: number;
  readonly state: Uint8Array;
  readonly own: boolean;
  /** Default 1. */
  readonly senderDevice?: number;
}

/** A member's sender_key app message waiting for a newer group state (`groupStates.putPending`). */
export interface PendingSenderKeyRecord {
  readonly chatId: number;
  readonly sender: string;
  /** The group state epoch the message names. */
  readonly epoch: number;
  /** The encoded sender_key app message (sealed at rest). */
  readonly message: Uint8Array;
}
