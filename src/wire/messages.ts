/**
 * The message catalogue of wire protocol v1 (SECURITY.md §14.6) and the codec around it. Every
 * message is a msgpack map with a type tag `t`; a request also has `id`, a u32 its reply (or
 * its `error`) echoes. Byte fields are msgpack bin. Each message type has one schema here, and
 * its TypeScript type is derived from the schema, so handlers see exactly what was validated.
 *
 * Decoding a frame: msgpack scan (msgpack.ts), msgpack decode, then the schema chosen by `t`.
 */
import {
  type ErrorCode,
  ERROR_CODE_LIST,
  ProtocolError,
  RemoteError,
  SmsgError,
  UsageError,
  isErrorCode,
} from "../errors.js";
import { encodeFrame } from "./frame-decoder.js";
import {
  LINK_ID_WIRE_BYTES,
  MAX_ACCOUNT_BACKUP_BYTES,
  MAX_ACCOUNT_DEVICES,
  MAX_BACKUP_PIECE_BYTES,
  MAX_CHATS_PER_PAGE,
  MAX_DEVICE_LIST_BYTES,
  MAX_SEND_COPIES,
  MAX_SYNC_HAVE,
  MIN_ACCOUNT_BACKUP_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_LIST_VERSION_NAMES,
  MAX_NAME_BYTES,
  MAX_PAGE_LIMIT,
  MAX_PREKEYS_PER_UPLOAD,
  OLDEST_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
} from "./limits.js";
import { decodeCompactClientFrame, decodeCompactRelayFrame, isCompactPayload } from "./compact-frames.js";
import { type MsgpackLimits, decodeMsgpack, encodeMsgpack } from "./msgpack.js";
import {
  type Infer,
  type Schema,
  type Shape,
  arrayOf,
  bin,
  bool,
  isPlainObject,
  rejectField,
  literal,
  obj,
  oneOf,
  optional,
  str,
  u32,
  sanitizeText,
  tupleOf,
  uint53,
} from "./schema.js";
import { USERNAME_RULE, tryNormalizeUsername } from "./username.js";

// ---------------------------------------------------------------------------------------------
// Field schemas shared by several messages
// ---------------------------------------------------------------------------------------------

/** Length of an encoded IdentityPublic (SECURITY.md §4.1: IPK 32 || IDK 32 || signature 64). */
export const IDENTITY_PUBLIC_WIRE_BYTES = 128;
/** X25519 public keys, invite codes and account credentials are 32 bytes. */
const KEY_BYTES = 32;
/** Ed25519 signatures are 64 bytes. */
const SIGNATURE_BYTES = 64;
/** A send's idempotency id: 16 random bytes chosen by the sender. */
export const IDEMPOTENCY_ID_BYTES = 16;

/**
 * A username field. Any ASCII case is accepted and the canonical lowercase form is returned
 * (username.ts), so the relay stores and compares only canonical names.
 */
export const usernameSchema: Schema<string> = {
  expected: USERNAME_RULE,
  parse(value, path) {
    if (typeof value !== "string") rejectField(path, USERNAME_RULE, value);
    const name = tryNormalizeUsername(value);
    if (name === undefined) rejectField(path, USERNAME_RULE);
    return name;
  },
};

/** A signed prekey as published (SECURITY.md §4.2): its id, X25519 public key and signature. */
export const signedPrekeySchema = obj({
  key_id: u32(),
  public_key: bin({ len: KEY_BYTES }),
  signature: bin({ len: SIGNATURE_BYTES }),
});

/** A one-time prekey as published (SECURITY.md §4.2): its id and X25519 public key. */
export const oneTimePrekeySchema = obj({
  key_id: u32(),
  public_key: bin({ len: KEY_BYTES }),
});

/** A member of a chat and their role in it (direct chats: both are "member"). */
export const chatMemberSchema = obj({
  username: usernameSchema,
  role: oneOf(["admin", "member"]),
});

/** A chat with its full member list: the reply to open_direct and create_group. */
export const chatInfoSchema = obj({
  id: uint53(),
  kind: oneOf(["direct", "group"]),
  closed: bool(),
  members: arrayOf(chatMemberSchema, { min: 1, max: MAX_GROUP_MEMBERS }),
});

/**
 * A chat in a `chats` listing: no member list (list_members has it), but the caller's role,
 * the member count and, for a direct chat, the other member.
 */
export const chatSummarySchema = obj({
  id: uint53(),
  kind: oneOf(["direct", "group"]),
  closed: bool(),
  role: oneOf(["admin", "member"]),
  member_count: u32({ min: 1, max: MAX_GROUP_MEMBERS }),
  peer: optional(usernameSchema),
});

/** A device id (SECURITY.md §17.1): a u32 ≥ 1. Absent where a field is optional means device 1. */
export const deviceIdSchema = u32({ min: 1 });

/** One per-device copy of a `send_copies` (SECURITY.md §17.8): the account, its device, the envelope for it. */
export const sendCopySchema = obj({
  to: usernameSchema,
  device: deviceIdSchema,
  envelope: bin({ min: 1, max: MAX_ENVELOPE_BYTES }),
});

/** One entry of `sync.have` (SECURITY.md §14.7 "Held messages"): [chat, msg], a message the client holds. */
export const syncHaveSchema = tupleOf(uint53(), uint53());

/** When the relay last saw a device of the caller's own account log in (ms since the epoch). */
export const deviceSeenSchema = obj({ device: deviceIdSchema, at: uint53() });

/** A signed prekey on the wire. */
export type WireSignedPrekey = Infer<typeof signedPrekeySchema>;
/** A one-time prekey on the wire. */
export type WireOneTimePrekey = Infer<typeof oneTimePrekeySchema>;
/** A chat member and role. */
export type ChatMember = Infer<typeof chatMemberSchema>;
/** A member's role in a chat. */
export type ChatRole = ChatMember["role"];
/** A chat with its members. */
export type ChatInfo = Infer<typeof chatInfoSchema>;
/** "direct" or "group". */
export type ChatKind = ChatInfo["kind"];
/** A chat in a listing. */
export type ChatSummary = Infer<typeof chatSummarySchema>;

/** A message schema: a map whose `t` is `type`. */
function message<const T extends string, const S extends Shape>(type: T, shape: S) {
  return obj({ t: literal(type), ...shape });
}

/** A message with an `id`: a request, or the reply that echoes the request's id. */
function withId<const T extends string, const S extends Shape>(type: T, shape: S) {
  return message(type, { id: u32(), ...shape });
}

/** Checks at compile time that every schema in a catalogue is keyed by its own `t`. */
function catalogue<const C extends { readonly [K in keyof C]: Schema<{ t: K }> }>(c: C): C {
  return Object.freeze(c);
}

const ping = message("ping", { n: u32() });
const pong = message("pong", { n: u32() });
const pageLimit = optional(u32({ min: 1, max: MAX_PAGE_LIMIT }));
/** A version this side speaks (checkVersion has refused any other before the schema runs). */
const version = u32({ min: OLDEST_PROTOCOL_VERSION, max: PROTOCOL_VERSION });

// ---------------------------------------------------------------------------------------------
// Client → relay
// ---------------------------------------------------------------------------------------------

/** Every message a client may send, by `t` (SECURITY.md §14.6.1). */
export const CLIENT_MESSAGES = catalogue({
  /** First frame of every connection: the protocol version it asks for and the client's name. → welcome */
  hello: message("hello", { v: version, client: str({ min: 1, max: MAX_NAME_BYTES }) }),
  /**
   * Creates an account with an invite. `credential` is the account's random secret (the relay
   * stores its SHA-256); `signature` is the identity key's Ed25519 signature over the Noise
   * handshake hash under the login label. → joined
   */
  join: withId("join", {
    invite: bin({ len: KEY_BYTES }),
    username: usernameSchema,
    credential: bin({ len: KEY_BYTES }),
    identity: bin({ len: IDENTITY_PUBLIC_WIRE_BYTES }),
    signed_prekey: signedPrekeySchema,
    one_time_prekeys: arrayOf(oneTimePrekeySchema, { max: MAX_PREKEYS_PER_UPLOAD }),
    signature: bin({ len: SIGNATURE_BYTES }),
  }),
  /** Logs in to an existing account (signature as in join). → logged_in */
  login: withId("login", {
    username: usernameSchema,
    credential: bin({ len: KEY_BYTES }),
    signature: bin({ len: SIGNATURE_BYTES }),
    /** The device logging in (SECURITY.md §17.8); absent: device 1. */
    device: optional(deviceIdSchema),
  }),
  /** Adds one-time prekeys and optionally replaces the signed prekey. → prekeys_stored */
  upload_prekeys: withId("upload_prekeys", {
    signed_prekey: optional(signedPrekeySchema),
    one_time_prekeys: arrayOf(oneTimePrekeySchema, { max: MAX_PREKEYS_PER_UPLOAD }),
  }),
  /** Asks for a user's prekey bundle, consuming one of their one-time prekeys. → bundle */
  fetch_bundle: withId("fetch_bundle", { username: usernameSchema, device: optional(deviceIdSchema) }),
  /** Asks for a user's identity key, consuming nothing. → user */
  lookup_user: withId("lookup_user", { username: usernameSchema }),
  /** Opens (or returns the existing) direct chat with a user. → chat */
  open_direct: withId("open_direct", { username: usernameSchema }),
  /** Creates a group of the caller (its admin) and these other members. → chat */
  create_group: withId("create_group", {
    members: arrayOf(usernameSchema, { max: MAX_GROUP_MEMBERS - 1 }),
  }),
  /** Adds a user to a group (admins only). → ok */
  add_member: withId("add_member", { chat: uint53(), username: usernameSchema }),
  /** Removes a user from a group (admins only). → ok */
  remove_member: withId("remove_member", { chat: uint53(), username: usernameSchema }),
  /** Leaves a chat. → ok */
  leave_chat: withId("leave_chat", { chat: uint53() }),
  /** Closes a chat: no more sends until reopened (group: admins only). → ok */
  close_chat: withId("close_chat", { chat: uint53() }),
  /** Reopens a closed chat. → ok */
  reopen_chat: withId("reopen_chat", { chat: uint53() }),
  /** Lists the caller's chats by ascending id, from after `after`. → chats */
  list_chats: withId("list_chats", { after: optional(uint53()) }),
  /** Lists a chat's members. → members */
  list_members: withId("list_members", { chat: uint53() }),
  /**
   * Stores an encrypted envelope in a chat. `idem` makes retries safe: the same idem (for the
   * same chat, recipient and envelope) returns the first send's result with duplicate = true.
   * `to` addresses the envelope to one member only (sender-key hand-over). → sent
   */
  send: withId("send", {
    chat: uint53(),
    idem: bin({ len: IDEMPOTENCY_ID_BYTES }),
    envelope: bin({ min: 1, max: MAX_ENVELOPE_BYTES }),
    to: optional(usernameSchema),
  }),
  /**
   * Stores one message as per-device copies (SECURITY.md §17.5, §17.8): in a direct chat one
   * copy for every current device of the peer and of the sender's other devices, or the relay
   * refuses it whole with DEVICE_LIST_STALE; in a group, pairwise hand-overs to the devices
   * named. `idem` as in send. → sent
   */
  send_copies: withId("send_copies", {
    chat: uint53(),
    idem: bin({ len: IDEMPOTENCY_ID_BYTES }),
    copies: arrayOf(sendCopySchema, { min: 1, max: MAX_SEND_COPIES }),
  }),
  /**
   * Asks for pending messages: the relay sends up to `limit` msg, then synced. `have`: [chat, msg]
   * pairs the client already stored (pushed to it); each of them that the reply holds comes as a
   * `held` stub instead, without its envelope (SECURITY.md §14.7 "Held messages").
   */
  sync: withId("sync", {
    limit: pageLimit,
    count: optional(literal(true)),
    have: optional(arrayOf(syncHaveSchema, { min: 1, max: MAX_SYNC_HAVE })),
  }),
  /** Marks a chat's messages up to and including `upto` as received. No reply. */
  ack: message("ack", { chat: uint53(), upto: uint53() }),
  /** Asks for messages the relay still holds in a chat, after `after`: msg…, then history_end. */
  history: withId("history", { chat: uint53(), after: optional(uint53()), limit: pageLimit }),
  // --- Devices (SECURITY.md §17.8) ---
  /** Stores a new signed device list of the caller's account (version above the stored one). → ok */
  publish_device_list: withId("publish_device_list", { list: bin({ min: 1, max: MAX_DEVICE_LIST_BYTES }) }),
  /** Asks for an account's current device list. → device_list */
  fetch_device_list: withId("fetch_device_list", { username: usernameSchema }),
  /**
   * Asks, for several accounts at once, the version of the list the relay holds, so that only
   * the lists that changed are fetched (a hint only: what is accepted is still checked by
   * §17.4). → device_list_versions
   */
  fetch_device_list_versions: withId("fetch_device_list_versions", {
    usernames: arrayOf(usernameSchema, { min: 1, max: MAX_LIST_VERSION_NAMES }),
  }),
  /**
   * Registers a device that the account's current list holds with exactly `identity`, and logs
   * this connection in as it (signature as in join, by the device's key). → joined
   */
  register_device: withId("register_device", {
    username: usernameSchema,
    device: deviceIdSchema,
    credential: bin({ len: KEY_BYTES }),
    identity: bin({ len: IDENTITY_PUBLIC_WIRE_BYTES }),
    signed_prekey: signedPrekeySchema,
    one_time_prekeys: arrayOf(oneTimePrekeySchema, { max: MAX_PREKEYS_PER_UPLOAD }),
    signature: bin({ len: SIGNATURE_BYTES }),
  }),
  /** Opens a one-time device-link mailbox (logged in). → ok */
  link_open: withId("link_open", { link: bin({ len: LINK_ID_WIRE_BYTES }) }),
  /** Posts a sealed link message to the other side of a link (allowed before login). → ok */
  link_post: withId("link_post", {
    link: bin({ len: LINK_ID_WIRE_BYTES }),
    message: bin({ min: 1, max: MAX_ENVELOPE_BYTES }),
  }),
  /** Ends a link. → ok */
  link_close: withId("link_close", { link: bin({ len: LINK_ID_WIRE_BYTES }) }),
  // --- Passphrase log-in (SECURITY.md §18.6) ---
  /** Asks for a username's passphrase salt and Argon2id parameters (before login). → passphrase_params */
  passphrase_salt: withId("passphrase_salt", { username: usernameSchema }),
  /** Proves knowledge of the passphrase for this connection (before login). → backup_info */
  passphrase_login: withId("passphrase_login", {
    username: usernameSchema,
    proof: bin({ len: SIGNATURE_BYTES }),
  }),
  /** Reads the account backup from `offset` (after passphrase_login). → backup_part */
  backup_get: withId("backup_get", { offset: u32() }),
  /** Stages a piece of a new account backup at `offset` (logged in). → ok */
  backup_put: withId("backup_put", {
    offset: u32(),
    data: bin({ min: 1, max: MAX_BACKUP_PIECE_BYTES }),
  }),
  /** Replaces the account's passphrase record with the staged backup and this verifier (logged in). → ok */
  passphrase_set: withId("passphrase_set", {
    salt: bin({ len: 16 }),
    /** Argon2id's `t` (SECURITY.md §18.2); not `t`, which is every message's type tag. */
    t_cost: u32(),
    mem_kib: u32(),
    login_public: bin({ len: KEY_BYTES }),
    size: u32({ min: MIN_ACCOUNT_BACKUP_BYTES, max: MAX_ACCOUNT_BACKUP_BYTES }),
  }),
  /**
   * Replaces only the backup of the account's record with the staged one, while the stored
   * verifier is `login_public` (logged in; SECURITY.md §18.6 "Update"). → ok
   */
  backup_update: withId("backup_update", {
    login_public: bin({ len: KEY_BYTES }),
    size: u32({ min: MIN_ACCOUNT_BACKUP_BYTES, max: MAX_ACCOUNT_BACKUP_BYTES }),
  }),
  /** Deletes the account's passphrase record (logged in). → ok */
  passphrase_remove: withId("passphrase_remove", {}),
  /** Liveness check: the other side answers pong with the same n. */
  ping,
  /** Answer to ping. */
  pong,
});

// ---------------------------------------------------------------------------------------------
// Relay → client
// ---------------------------------------------------------------------------------------------

/** Every message the relay may send, by `t` (SECURITY.md §14.6.2). */
export const RELAY_MESSAGES = catalogue({
  /** Answer to hello: the version of this connection (the one hello asked for) and the relay's name. */
  welcome: message("welcome", { v: version, relay: str({ min: 1, max: MAX_NAME_BYTES }) }),
  /** Answer to join: the account exists and this connection is logged in to it. */
  joined: withId("joined", { username: usernameSchema, is_admin: bool() }),
  /** Answer to login; `stock` is how many one-time prekeys the relay still holds. */
  logged_in: withId("logged_in", { username: usernameSchema, is_admin: bool(), stock: u32() }),
  /** Answer to upload_prekeys: one-time prekeys now held. */
  prekeys_stored: withId("prekeys_stored", { stock: u32() }),
  /** Answer to fetch_bundle: a prekey bundle (SECURITY.md §4.2); no one_time_prekey when none are left. */
  bundle: withId("bundle", {
    username: usernameSchema,
    identity: bin({ len: IDENTITY_PUBLIC_WIRE_BYTES }),
    signed_prekey: signedPrekeySchema,
    one_time_prekey: optional(oneTimePrekeySchema),
    /** The device whose bundle this is (SECURITY.md §17.8); absent from relays before §17: device 1. */
    device: optional(deviceIdSchema),
  }),
  /** Answer to lookup_user. */
  user: withId("user", { username: usernameSchema, identity: bin({ len: IDENTITY_PUBLIC_WIRE_BYTES }) }),
  /** Answer to open_direct and create_group. */
  chat: withId("chat", { chat: chatInfoSchema }),
  /** Answer to list_chats: one page; when `more`, ask again with after = the last id. */
  chats: withId("chats", { chats: arrayOf(chatSummarySchema, { max: MAX_CHATS_PER_PAGE }), more: bool() }),
  /** Answer to list_members. */
  members: withId("members", {
    chat: uint53(),
    members: arrayOf(chatMemberSchema, { min: 1, max: MAX_GROUP_MEMBERS }),
  }),
  /** Answer to add_member, remove_member, leave_chat, close_chat and reopen_chat. */
  ok: withId("ok", {}),
  /** Answer to send, after the message is committed: its id and time (ms since the epoch). */
  sent: withId("sent", { msg: uint53(), ts: uint53(), duplicate: bool() }),
  /** A stored message: pushed when it arrives, or sent during sync and history. */
  msg: message("msg", {
    chat: uint53(),
    msg: uint53(),
    from: usernameSchema,
    ts: uint53(),
    envelope: bin({ min: 1, max: MAX_ENVELOPE_BYTES }),
    to: optional(usernameSchema),
    /** The sending device (SECURITY.md §17.8); absent: device 1. */
    from_device: optional(deviceIdSchema),
    /** True on frames answering a sync or history request; absent on pushes. */
    reply: optional(literal(true)),
  }),
  /**
   * In a sync reply, in the place of a `msg` the request's `have` named: that message, without
   * its envelope, which the client already holds (SECURITY.md §14.7 "Held messages").
   */
  held: message("held", { chat: uint53(), msg: uint53() }),
  /** Ends the msg frames answering a sync; `more` when pending messages remain. */
  synced: withId("synced", { more: bool(), pending: optional(u32()) }),
  /** Ends the msg frames answering a history; `more` when newer messages remain. */
  history_end: withId("history_end", { more: bool() }),
  /** Membership or state of a chat changed; `user` is whom it concerns, `by` who did it. */
  chat_event: message("chat_event", {
    chat: uint53(),
    event: oneOf(["added", "removed", "left", "closed", "reopened"]),
    user: optional(usernameSchema),
    by: usernameSchema,
  }),
  /** The caller's one-time prekey stock ran low: upload more. */
  prekeys_low: message("prekeys_low", { stock: u32() }),
  /** A request (`id`) or the connection (no `id`) failed; `code` is an ErrorCode. */
  error: message("error", {
    id: optional(u32()),
    code: oneOf(ERROR_CODE_LIST),
    message: str({ max: MAX_ERROR_MESSAGE_BYTES }),
  }),
  // --- Devices (SECURITY.md §17.8) ---
  /**
   * Answer to fetch_device_list: the stored list (absent: an account with no list, a client
   * before §17: device 1 only). `seen` and `highest` only for the caller's own account.
   */
  device_list: withId("device_list", {
    username: usernameSchema,
    list: optional(bin({ min: 1, max: MAX_DEVICE_LIST_BYTES })),
    seen: optional(arrayOf(deviceSeenSchema, { max: MAX_ACCOUNT_DEVICES })),
    /** Only for the caller's own account: the highest device id the account ever listed (ids are never reused, §17.1). */
    highest: optional(deviceIdSchema),
  }),
  /**
   * Answer to fetch_device_list_versions: per name asked, in the same order, the version of the
   * list the relay holds, or 0 when it holds none it would answer fetch_device_list with (an
   * account without a list, an unknown or a disabled one).
   */
  device_list_versions: withId("device_list_versions", {
    versions: arrayOf(u32(), { min: 1, max: MAX_LIST_VERSION_NAMES }),
  }),
  /** An account's device list changed: fetch it. Pushed to its devices and its chat peers' devices. */
  device_list_changed: message("device_list_changed", { username: usernameSchema, version: u32({ min: 1 }) }),
  /** A sealed link message from the other side of a link. */
  link_msg: message("link_msg", {
    link: bin({ len: LINK_ID_WIRE_BYTES }),
    message: bin({ min: 1, max: MAX_ENVELOPE_BYTES }),
  }),
  // --- Passphrase log-in (SECURITY.md §18.6) ---
  /** Answer to passphrase_salt (a decoy for a name without a record, §18.5). */
  passphrase_params: withId("passphrase_params", { salt: bin({ len: 16 }), t_cost: u32(), mem_kib: u32() }),
  /** Answer to a passphrase_login that passed: the account key the relay stores and the backup's size. */
  backup_info: withId("backup_info", {
    username: usernameSchema,
    identity: bin({ len: IDENTITY_PUBLIC_WIRE_BYTES }),
    size: u32({ min: MIN_ACCOUNT_BACKUP_BYTES, max: MAX_ACCOUNT_BACKUP_BYTES }),
  }),
  /** Answer to backup_get: the bytes of the backup from `offset`. */
  backup_part: withId("backup_part", { offset: u32(), data: bin({ min: 1, max: MAX_BACKUP_PIECE_BYTES }) }),
  /** Liveness check. */
  ping,
  /** Answer to ping. */
  pong,
});

type MessagesOf<C> = { [K in keyof C]: Infer<C[K]> }[keyof C];

/** Any message a client sends. */
export type ClientMessage = MessagesOf<typeof CLIENT_MESSAGES>;
/** Any message the relay sends. */
export type RelayMessage = MessagesOf<typeof RELAY_MESSAGES>;
/** A client message type tag. */
export type ClientMessageType = ClientMessage["t"];
/** A relay message type tag. */
export type RelayMessageType = RelayMessage["t"];
/** The client message with tag T. */
export type ClientMessageOf<T extends ClientMessageType> = Extract<ClientMessage, { t: T }>;
/** The relay message with tag T. */
export type RelayMessageOf<T extends RelayMessageType> = Extract<RelayMessage, { t: T }>;
/** A client message that expects a reply: it carries an `id`. */
export type ClientRequest = Extract<ClientMessage, { id: number }>;
/** A client request type tag. */
export type ClientRequestType = ClientRequest["t"];
/** A chat_event's event. */
export type ChatEventKind = RelayMessageOf<"chat_event">["event"];

/**
 * The reply type that answers each request (besides `error`). sync and history are answered by
 * zero or more `msg` frames, then the reply named here.
 */
export const REPLY_TYPES = Object.freeze({
  join: "joined",
  login: "logged_in",
  upload_prekeys: "prekeys_stored",
  fetch_bundle: "bundle",
  lookup_user: "user",
  open_direct: "chat",
  create_group: "chat",
  add_member: "ok",
  remove_member: "ok",
  leave_chat: "ok",
  close_chat: "ok",
  reopen_chat: "ok",
  list_chats: "chats",
  list_members: "members",
  send: "sent",
  send_copies: "sent",
  sync: "synced",
  history: "history_end",
  publish_device_list: "ok",
  fetch_device_list: "device_list",
  fetch_device_list_versions: "device_list_versions",
  register_device: "joined",
  link_open: "ok",
  link_post: "ok",
  link_close: "ok",
  passphrase_salt: "passphrase_params",
  passphrase_login: "backup_info",
  backup_get: "backup_part",
  backup_put: "ok",
  passphrase_set: "ok",
  backup_update: "ok",
  passphrase_remove: "ok",
} as const satisfies Record<ClientRequestType, RelayMessageType>);

/** The reply message to request type T. */
export type ReplyTo<T extends ClientRequestType> = RelayMessageOf<(typeof REPLY_TYPES)[T]>;

// ---------------------------------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------------------------------

/** Options of the decoders. */
export interface DecodeOptions {
  /** msgpack bounds (default DEFAULT_MSGPACK_LIMITS). */
  readonly limits?: MsgpackLimits;
  /**
   * The connection speaks version 2 or later (SECURITY.md §14.9): a payload whose first byte is
   * below 0x80 is a compact hot frame. Without it such a payload is refused as in version 1.
   */
  readonly compact?: boolean;
}

/**
 * Decodes and validates one frame payload from a client (SECURITY.md §14.4).
 * Throws ProtocolError: BAD_FRAME (msgpack), BAD_MESSAGE (not a map, or a field wrong),
 * UNKNOWN_TYPE (`t` not a client message, or an unknown compact type), UNSUPPORTED_VERSION
 * (hello.v is not a version this side speaks). The error's `requestId` is the message's `id`
 * when it had a valid one.
 */
export function decodeClientMessage(frame: Uint8Array, options: DecodeOptions = {}): ClientMessage {
  if (options.compact === true && isCompactPayload(frame)) return decodeCompactClientFrame(frame);
  return decodeWith(CLIENT_MESSAGES, frame, options) as ClientMessage;
}

/** Decodes and validates one frame payload from the relay; throws as decodeClientMessage. */
export function decodeRelayMessage(frame: Uint8Array, options: DecodeOptions = {}): RelayMessage {
  if (options.compact === true && isCompactPayload(frame)) return decodeCompactRelayFrame(frame);
  return decodeWith(RELAY_MESSAGES, frame, options) as RelayMessage;
}

const ALL_MESSAGES: Readonly<Record<string, Schema<unknown>>> = Object.freeze({
  ...CLIENT_MESSAGES,
  ...RELAY_MESSAGES,
});

function decodeWith(
  table: Readonly<Record<string, Schema<unknown>>>,
  frame: Uint8Array,
  options: DecodeOptions,
): unknown {
  const raw = decodeMsgpack(frame, options.limits);
  if (!isPlainObject(raw)) rejectField("message", "a map", raw);
  const requestId = requestIdOf(raw);
  try {
    const t = raw["t"];
    if (t === undefined) throw new ProtocolError("BAD_MESSAGE", "message.t: missing (expected a message type)");
    if (typeof t !== "string") rejectField("message.t", "a message type string", t);
    const schema = Object.hasOwn(table, t) ? table[t] : undefined;
    if (schema === undefined) {
      const shown = /^[a-z_]{1,32}$/.test(t) ? ` "${t}"` : "";
      throw new ProtocolError("UNKNOWN_TYPE", `unknown message type${shown}`);
    }
    if (t === "hello" || t === "welcome") checkVersion(raw["v"]);
    return schema.parse(raw, t);
  } catch (error) {
    if (error instanceof ProtocolError) throw error.withRequestId(requestId);
    throw error;
  }
}

/** The message's `id` when it is a valid u32, so an error can name the failed request. */
function requestIdOf(raw: Record<string, unknown>): number | undefined {
  if (!Object.hasOwn(raw, "id")) return undefined;
  const id = raw["id"];
  const n = typeof id === "bigint" && id >= 0n && id <= 0xffffffffn ? Number(id) : id;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? n : undefined;
}

/** Refuses a hello or welcome for a protocol version this side does not speak, before its other fields. */
function checkVersion(v: unknown): void {
  const n = typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : undefined;
  if (n !== undefined && (n < BigInt(OLDEST_PROTOCOL_VERSION) || n > BigInt(PROTOCOL_VERSION))) {
    const shown = n >= 0n && n <= 0xffffffffn ? ` ${n}` : "";
    throw new ProtocolError(
      "UNSUPPORTED_VERSION",
      `protocol version${shown} is not supported (this side speaks ${OLDEST_PROTOCOL_VERSION} to ${PROTOCOL_VERSION})`,
    );
  }
}

/**
 * Validates `msg` against its schema and encodes it as a frame payload (msgpack, a new array).
 * Usernames come out in canonical form and absent optional fields are left out.
 * Throws UsageError when `msg` does not match its schema: the peer would refuse it.
 */
export function encodeMessage(msg: ClientMessage | RelayMessage): Uint8Array {
  const t: unknown = msg.t;
  const schema = typeof t === "string" && Object.hasOwn(ALL_MESSAGES, t) ? ALL_MESSAGES[t] : undefined;
  if (schema === undefined) throw new UsageError("cannot encode a message of unknown type");
  let checked: unknown;
  try {
    checked = schema.parse(msg, t as string);
  } catch (error) {
    if (error instanceof ProtocolError) throw new UsageError(`cannot encode ${error.message}`);
    throw error;
  }
  return encodeMsgpack(checked);
}

/** `encodeFrame(encodeMessage(msg), maxFrameBytes)`: one message, framed. Throws UsageError. */
export function encodeMessageFrame(msg: ClientMessage | RelayMessage, maxFrameBytes?: number): Uint8Array {
  return encodeFrame(encodeMessage(msg), maxFrameBytes);
}

// ---------------------------------------------------------------------------------------------
// Errors on the wire
// ---------------------------------------------------------------------------------------------

/**
 * The `error` message that reports `error` to the peer. A ProtocolError, or any SmsgError whose
 * code is an ErrorCode (other than INTERNAL), is sent with its code and text; anything else is
 * sent as INTERNAL "internal error", so no detail of a failure leaks. `requestId` defaults to
 * the ProtocolError's own. The text is cut to MAX_ERROR_MESSAGE_BYTES and stripped of
 * unprintable characters, so the result always encodes.
 */
export function errorMessageFor(error: unknown, requestId?: number): RelayMessageOf<"error"> {
  let code: ErrorCode = "INTERNAL";
  let text = "internal error";
  if (error instanceof SmsgError && isErrorCode(error.code) && error.code !== "INTERNAL") {
    code = error.code;
    text = sanitizeText(error.message, MAX_ERROR_MESSAGE_BYTES);
  }
  const id = requestId ?? (error instanceof ProtocolError ? error.requestId : undefined);
  return id === undefined ? { t: "error", code, message: text } : { t: "error", id, code, message: text };
}

/** The RemoteError a client throws for an `error` message from the relay. */
export function remoteErrorOf(msg: RelayMessageOf<"error">): RemoteError {
  return new RemoteError(msg.code, msg.message, msg.id);
}
