/**
 * The account-state snapshot (SECURITY.md §17.6.1): what a new device of an account starts
 * from, carried in a device-link grant (§17.6 message 5) and in the passphrase backup (§18.3).
 * A byte layout of its own, not msgpack, so that it is canonical: every snapshot has exactly
 * one encoding, decode(encode(s)) = s and encode(decode(b)) = b, and the vectors
 * (test/vectors/account-state.json) are reproducible byte for byte.
 *
 * Pure: no store, no clock. client/engine/account-state-snapshot.ts builds a snapshot from the
 * store and applies one to it.
 */
import { Reader, bytesEqual, concat, u16be, u32be, utf8 } from "../../crypto/bytes.js";
import { MAX_ACCOUNT_STATE_BYTES } from "../../crypto/device-link.js";
import { IDENTITY_PUBLIC_BYTES, decodeIdentityPublic } from "../../crypto/identity.js";
import { CodecError, LimitError, ProtocolError, SmsgError, UsageError } from "../../src/errors.js";
import { str, utf8Length } from "../../src/wire/schema.js";
import { isValidUsername } from "../../src/wire/username.js";
import {
  GROUP_STATE_SIGNATURE_BYTES,
  type GroupStateMessage,
  MAX_DISPLAY_NAME_BYTES,
  MAX_GROUP_NAME_BYTES,
  MAX_GROUP_STATE_MEMBERS,
  groupStateMessageSchema,
} from "./app-message.js";

/** The format byte this version writes and reads (§17.6.1). */
export const ACCOUNT_STATE_FORMAT = 1;

/** The longest snapshot: 61 440 bytes, one limit for a grant and a backup (§17.6.1). */
export { MAX_ACCOUNT_STATE_BYTES };

/** Longest chat name in a snapshot, in UTF-8 bytes: a group name (§15.1). */
export const MAX_CHAT_NAME_BYTES = MAX_GROUP_NAME_BYTES;

/** A contact as the account's devices pin it (§17.6.1). */
export interface AccountStateContact {
  /** Canonical username (§14.5). */
  readonly username: string;
  /** The pinned IdentityPublic (128 bytes, §4.1): the contact's account key. */
  readonly identity: Uint8Array;
  /** The user compared safety numbers for the pinned key. */
  readonly verified: boolean;
  /** A different key seen and not yet accepted (sending is blocked until then); null when none. */
  readonly pendingIdentity: Uint8Array | null;
  /** The contact's display name (§15.2.4), null when none. */
  readonly displayName: string | null;
}

/** A chat as the account's devices know it (§17.6.1). */
export interface AccountStateChat {
  /** The relay's chat id (uint53). */
  readonly id: number;
  readonly kind: "direct" | "group";
  /** The other member of a direct chat; null for a group. */
  readonly peer: string | null;
  /** The chat's name, null when it has none (never empty). */
  readonly name: string | null;
  readonly closed: boolean;
  readonly myRole: "admin" | "member";
  /** How we stopped being a member of a group (§15.4.6); null while a member, always null for a direct chat. */
  readonly departure: "left" | "removed" | null;
  /** Who removed us, when known; null otherwise (and whenever departure is null). */
  readonly departedBy: string | null;
  /** The relay message id the user has read up to (0: none). */
  readonly lastReadMsg: number;
  /** The accepted signed group state (§15.4), for a group that has one; its `chat` is `id`. Null for a direct chat. */
  readonly groupState: GroupStateMessage | null;
}

/** The whole snapshot (§17.6.1). The client has no settings yet: a later format adds them. */
export interface AccountState {
  /** Our own display name, null when none. */
  readonly displayName: string | null;
  /** Strictly ascending by username. */
  readonly contacts: readonly AccountStateContact[];
  /** Strictly ascending by id. */
  readonly chats: readonly AccountStateChat[];
}

/** The snapshot of an account with nothing in it; also what an empty `state` decodes to. */
export const EMPTY_ACCOUNT_STATE: AccountState = Object.freeze({ displayName: null, contacts: [], chats: [] });

/** Why a snapshot was refused. */
export type AccountStateErrorReason = "too_large" | "malformed" | "unsupported_version";

/**
 * A `state` that is not a snapshot this version reads (§17.6.1): CodecError (code CODEC).
 * "unsupported_version" says "account state format N is not supported by this version".
 */
export class AccountStateError extends CodecError {
  readonly reason: AccountStateErrorReason;
  constructor(reason: AccountStateErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** A snapshot whose encoding is longer than MAX_ACCOUNT_STATE_BYTES (LimitError, code LIMIT). */
export class AccountStateTooLargeError extends LimitError {
  constructor(readonly bytes: number) {
    super(`the account state has ${bytes} bytes; a new device can be given at most ${MAX_ACCOUNT_STATE_BYTES}`);
  }
}

// Flag bits (§17.6.1). Every other bit is 0.
const CONTACT_VERIFIED = 0x01;
const CONTACT_PENDING = 0x02;
const CHAT_CLOSED = 0x01;
const CHAT_ADMIN = 0x02;
const CHAT_GROUP_STATE = 0x04;
const KIND_DIRECT = 1;
const KIND_GROUP = 2;
const DEPARTURES = [null, "left", "removed"] as const;

const displayNameRule = str({ min: 1, max: MAX_DISPLAY_NAME_BYTES });
const chatNameRule = str({ min: 1, max: MAX_CHAT_NAME_BYTES });

/** `rule.parse(value)` as a boolean. */
function fits(rule: { parse(value: unknown, path: string): unknown }, value: unknown): boolean {
  try {
    rule.parse(value, "");
    return true;
  } catch (e) {
    if (e instanceof ProtocolError) return false;
    throw e;
  }
}

const MAX_UINT53 = Number.MAX_SAFE_INTEGER;
const isUint53 = (n: number) => Number.isSafeInteger(n) && n >= 0;

function u64be(n: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, Math.floor(n / 2 ** 32), false);
  v.setUint32(4, n >>> 0, false);
  return out;
}

const u8 = (n: number) => Uint8Array.of(n);
const short = (s: string) => concat(u8(utf8Length(s)), utf8(s));
const long = (s: string) => concat(u16be(utf8Length(s)), utf8(s));
const optionalShort = (s: string | null) => (s === null ? u8(0) : short(s));
const optionalLong = (s: string | null) => (s === null ? u16be(0) : long(s));

/**
 * Checks a snapshot against every rule the decoder enforces and returns the first broken one,
 * or undefined. Shared by encode (a UsageError) and decode (malformed), so what encodes decodes.
 * Does not verify IdentityPublic signatures (the decoder does that on the bytes).
 */
function problemOf(s: AccountState): string | undefined {
  if (s.displayName !== null && !fits(displayNameRule, s.displayName))
    return "own display name: 1..64 bytes of text without control characters";
  let prev: string | undefined;
  for (const c of s.contacts) {
    if (!isValidUsername(c.username)) return "contact: not a canonical username";
    if (prev !== undefined && !(prev < c.username)) return "contacts not strictly ascending by username";
    prev = c.username;
    if (c.identity.length !== IDENTITY_PUBLIC_BYTES) return `contact ${c.username}: identity not 128 bytes`;
    if (c.pendingIdentity !== null) {
      if (c.pendingIdentity.length !== IDENTITY_PUBLIC_BYTES)
        return `contact ${c.username}: pending identity not 128 bytes`;
      if (bytesEqual(c.pendingIdentity, c.identity)) return `contact ${c.username}: pending identity is the pinned one`;
    }
    if (c.displayName !== null && !fits(displayNameRule, c.displayName))
      return `contact ${c.username}: display name: 1..64 bytes of text without control characters`;
  }
  let prevId = -1;
  for (const c of s.chats) {
    if (!isUint53(c.id)) return "chat id: not a uint53";
    if (c.id <= prevId) return "chats not strictly ascending by id";
    prevId = c.id;
    if (c.kind !== "direct" && c.kind !== "group") return `chat ${c.id}: unknown kind`;
    if (c.kind === "direct") {
      if (c.peer === null || !isValidUsername(c.peer)) return `chat ${c.id}: a direct chat's peer is a username`;
      if (c.departure !== null) return `chat ${c.id}: a direct chat has no departure`;
      if (c.groupState !== null) return `chat ${c.id}: a direct chat has no group state`;
    } else if (c.peer !== null) return `chat ${c.id}: a group has no peer`;
    if (c.name !== null && (!fits(chatNameRule, c.name) || c.name.trim() === ""))
      return `chat ${c.id}: name: 1..256 bytes of text without control characters, not only spaces`;
    if (c.myRole !== "admin" && c.myRole !== "member") return `chat ${c.id}: unknown role`;
    if (!DEPARTURES.includes(c.departure)) return `chat ${c.id}: unknown departure`;
    if (c.departedBy !== null && (c.departure === null || !isValidUsername(c.departedBy)))
      return `chat ${c.id}: departed_by is a username, only with a departure`;
    if (!isUint53(c.lastReadMsg)) return `chat ${c.id}: last_read_msg not a uint53`;
    if (c.groupState !== null) {
      if (c.groupState.chat !== c.id) return `chat ${c.id}: the group state is another chat's`;
      try {
        groupStateMessageSchema.parse(c.groupState, `chat ${c.id}: group state`);
      } catch (e) {
        if (e instanceof ProtocolError) return e.message;
        throw e;
      }
    }
  }
  return undefined;
}

function encodeGroupState(g: GroupStateMessage): Uint8Array {
  const names = (xs: readonly string[]) => concat(u16be(xs.length), ...xs.map(short));
  return concat(u32be(g.epoch), long(g.name), names(g.members), names(g.admins), short(g.by), u64be(g.ts), g.signature);
}

function encodeContact(c: AccountStateContact): Uint8Array {
  const flags = (c.verified ? CONTACT_VERIFIED : 0) | (c.pendingIdentity !== null ? CONTACT_PENDING : 0);
  return concat(
    short(c.username),
    c.identity,
    u8(flags),
    c.pendingIdentity ?? new Uint8Array(0),
    optionalShort(c.displayName),
  );
}

function encodeChat(c: AccountStateChat): Uint8Array {
  const flags =
    (c.closed ? CHAT_CLOSED : 0) | (c.myRole === "admin" ? CHAT_ADMIN : 0) | (c.groupState ? CHAT_GROUP_STATE : 0);
  return concat(
    u64be(c.id),
    u8(c.kind === "direct" ? KIND_DIRECT : KIND_GROUP),
    c.kind === "direct" ? short(c.peer!) : new Uint8Array(0),
    optionalLong(c.name),
    u8(flags),
    u8(DEPARTURES.indexOf(c.departure)),
    optionalShort(c.departedBy),
    u64be(c.lastReadMsg),
    c.groupState ? encodeGroupState(c.groupState) : new Uint8Array(0),
  );
}

/**
 * The canonical encoding of a snapshot (SECURITY.md §17.6.1). Throws UsageError for a snapshot
 * the decoder would refuse (out of order, out of bounds, an invalid group state), and
 * AccountStateTooLargeError when the encoding is longer than MAX_ACCOUNT_STATE_BYTES.
 */
export function encodeAccountState(s: AccountState): Uint8Array {
  const problem = problemOf(s);
  if (problem !== undefined) throw new UsageError(`cannot encode an invalid account state: ${problem}`);
  const contacts = s.contacts.map(encodeContact);
  const chats = s.chats.map(encodeChat);
  // 1 format byte + the own name + two u16 counts; a contact is at least 133 bytes, so a count
  // that fits the limit always fits its u16.
  const length = [...contacts, ...chats].reduce((n, b) => n + b.length, 5 + optionalShort(s.displayName).length);
  if (length > MAX_ACCOUNT_STATE_BYTES) throw new AccountStateTooLargeError(length);
  return concat(
    u8(ACCOUNT_STATE_FORMAT),
    optionalShort(s.displayName),
    u16be(s.contacts.length),
    ...contacts,
    u16be(s.chats.length),
    ...chats,
  );
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** A Reader with the snapshot's field forms. Every failure is a CodecError. */
class StateReader {
  private readonly r: Reader;
  constructor(bytes: Uint8Array) {
    this.r = new Reader(bytes, "account state");
  }
  u8(): number {
    return this.r.u8();
  }
  u16(): number {
    return this.r.u16();
  }
  u32(): number {
    return this.r.u32();
  }
  bytes(n: number): Uint8Array {
    return this.r.bytes(n);
  }
  u64(): number {
    const high = this.r.u32();
    const low = this.r.u32();
    if (high > Math.floor(MAX_UINT53 / 2 ** 32)) throw new CodecError("account state: an integer above 2^53-1");
    return high * 2 ** 32 + low;
  }
  private text(n: number): string {
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(this.r.bytes(n));
    } catch (e) {
      if (e instanceof SmsgError) throw e;
      throw new CodecError("account state: a string that is not UTF-8");
    }
  }
  short(): string {
    return this.text(this.r.u8());
  }
  long(): string {
    return this.text(this.r.u16());
  }
  optionalShort(): string | null {
    const s = this.short();
    return s === "" ? null : s;
  }
  optionalLong(): string | null {
    const s = this.long();
    return s === "" ? null : s;
  }
  identity(what: string): Uint8Array {
    const b = this.r.bytes(IDENTITY_PUBLIC_BYTES);
    try {
      decodeIdentityPublic(b);
    } catch {
      throw new CodecError(`account state: ${what}: not a valid IdentityPublic (§4.1)`);
    }
    return b;
  }
  end(): void {
    this.r.end();
  }
}

function flagsWithin(flags: number, allowed: number, what: string): void {
  if ((flags & ~allowed) !== 0) throw new CodecError(`account state: ${what}: unknown flag bits`);
}

function readContact(r: StateReader): AccountStateContact {
  const username = r.short();
  const identity = r.identity(`contact ${username}`);
  const flags = r.u8();
  flagsWithin(flags, CONTACT_VERIFIED | CONTACT_PENDING, "contact");
  const pendingIdentity = flags & CONTACT_PENDING ? r.identity(`contact ${username} pending`) : null;
  return {
    username,
    identity,
    verified: (flags & CONTACT_VERIFIED) !== 0,
    pendingIdentity,
    displayName: r.optionalShort(),
  };
}

function readGroupState(r: StateReader, chat: number): GroupStateMessage {
  const epoch = r.u32();
  const name = r.long();
  const names = (what: string) => {
    const n = r.u16();
    if (n > MAX_GROUP_STATE_MEMBERS) throw new CodecError(`account state: more than 256 ${what}`);
    return Array.from({ length: n }, () => r.short());
  };
  const members = names("members");
  const admins = names("admins");
  const by = r.short();
  const ts = r.u64();
  const signature = r.bytes(GROUP_STATE_SIGNATURE_BYTES);
  return { v: 1, k: "group_state", chat, epoch, name, members, admins, by, ts, signature };
}

function readChat(r: StateReader): AccountStateChat {
  const id = r.u64();
  const kindByte = r.u8();
  if (kindByte !== KIND_DIRECT && kindByte !== KIND_GROUP) throw new CodecError("account state: unknown chat kind");
  const kind = kindByte === KIND_DIRECT ? "direct" : "group";
  const peer = kind === "direct" ? r.short() : null;
  const name = r.optionalLong();
  const flags = r.u8();
  flagsWithin(flags, CHAT_CLOSED | CHAT_ADMIN | (kind === "group" ? CHAT_GROUP_STATE : 0), "chat");
  const departureByte = r.u8();
  if (departureByte >= DEPARTURES.length) throw new CodecError("account state: unknown departure");
  const departedBy = r.optionalShort();
  const lastReadMsg = r.u64();
  const groupState = flags & CHAT_GROUP_STATE ? readGroupState(r, id) : null;
  return {
    id,
    kind,
    peer,
    name,
    closed: (flags & CHAT_CLOSED) !== 0,
    myRole: flags & CHAT_ADMIN ? "admin" : "member",
    departure: DEPARTURES[departureByte]!,
    departedBy,
    lastReadMsg,
    groupState,
  };
}

/**
 * Decodes a `state` (SECURITY.md §17.6.1). The empty string is the empty snapshot (what clients
 * sent before the format existed). Refuses with AccountStateError: more than
 * MAX_ACCOUNT_STATE_BYTES ("too_large", before reading), a first byte other than 1
 * ("unsupported_version"), and anything else that is not the canonical encoding of a valid
 * snapshot ("malformed"): truncation, trailing bytes, unknown flag bits or codes, invalid
 * UTF-8, a name or username out of its rule, an IdentityPublic whose §4.1 signature fails,
 * contacts or chats out of order, an invalid group state (§15.2.3). Never throws anything else.
 */
export function decodeAccountState(bytes: Uint8Array): AccountState {
  if (!(bytes instanceof Uint8Array)) throw new UsageError("an account state is decoded from a Uint8Array");
  if (bytes.length > MAX_ACCOUNT_STATE_BYTES)
    throw new AccountStateError("too_large", `account state: longer than ${MAX_ACCOUNT_STATE_BYTES} bytes`);
  if (bytes.length === 0) return EMPTY_ACCOUNT_STATE;
  if (bytes[0] !== ACCOUNT_STATE_FORMAT)
    throw new AccountStateError(
      "unsupported_version",
      `account state format ${bytes[0]} is not supported by this version`,
    );
  let state: AccountState;
  try {
    const r = new StateReader(bytes);
    r.u8();
    const displayName = r.optionalShort();
    const contacts = Array.from({ length: r.u16() }, () => readContact(r));
    const chats = Array.from({ length: r.u16() }, () => readChat(r));
    r.end();
    state = { displayName, contacts, chats };
  } catch (e) {
    if (e instanceof CodecError) throw new AccountStateError("malformed", e.message);
    throw e;
  }
  const problem = problemOf(state);
  if (problem !== undefined) throw new AccountStateError("malformed", `account state: ${problem}`);
  return state;
}
