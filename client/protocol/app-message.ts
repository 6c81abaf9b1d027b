/**
 * The application message: the plaintext inside every end-to-end encrypted envelope
 * (SECURITY.md §15.1–§15.2). It is a msgpack map `{v: 1, k: kind, ...}` of the wire's msgpack
 * profile (SECURITY.md §14.3), checked field by field on decode with the wire's schema
 * combinators: an unknown version, kind or key, a missing field or a value out of bounds is
 * refused. Padding is not applied here: crypto/session.ts pads 1:1 plaintexts itself, and the
 * caller pads a group plaintext with crypto/padding.ts before sender-key encryption.
 *
 * The msgpack encoding is not canonical (any integer or length width decodes), so nothing
 * hashes or signs it: the group state signature covers its own byte layout (group-state.ts).
 */
import { MAX_DEVICES, MAX_DEVICE_LIST_BYTES } from "../../crypto/device-list.js";
import { SENDER_DISTRIBUTION_BYTES } from "../../crypto/sender-keys.js";
import { CodecError, ProtocolError, UsageError } from "../../src/errors.js";
import { MAX_GROUP_MEMBERS } from "../../src/wire/limits.js";
import { type MsgpackLimits, decodeMsgpack, encodeMsgpack } from "../../src/wire/msgpack.js";
import {
  type Infer,
  type Schema,
  arrayOf,
  bin,
  isPlainObject,
  literal,
  obj,
  rejectField,
  str,
  u32,
  uint53,
  utf8Length,
} from "../../src/wire/schema.js";
import { USERNAME_RULE, isValidUsername } from "../../src/wire/username.js";

// ---------------------------------------------------------------------------------------------
// Limits (SECURITY.md §15.1)

/** The only application message version: the `v` of every message. */
export const APP_MESSAGE_VERSION = 1;

/**
 * The longest application message encoding, 63 487 bytes: the largest plaintext whose padded
 * length (SECURITY.md §8, 63 488 bytes) still fits in a MAX_ENVELOPE_BYTES envelope both as a
 * 1:1 PREKEY envelope (227 bytes of overhead, SECURITY.md §6.5) and as a sender-key message
 * (89 bytes, §7.4). The next padded length, 65 536, fits in neither.
 */
export const MAX_APP_MESSAGE_BYTES = 63_487;

/**
 * The longest text body: 60 KiB of UTF-8 (61 440 bytes), so a text message of any body and
 * any field values stays under MAX_APP_MESSAGE_BYTES.
 */
export const MAX_TEXT_BODY_BYTES = 60 * 1024;

/**
 * Throws UsageError, with the sentence people see, when `body` is longer than one text message
 * holds (MAX_TEXT_BODY_BYTES of UTF-8; README "Chatting"). Every way of sending (send, the
 * interactive mode, a group) checks with this before anything is encrypted or stored.
 */
export function checkTextBodySize(body: string): void {
  if (body.length <= MAX_TEXT_BODY_BYTES / 3) return; // cannot be over: at most 3 UTF-8 bytes per UTF-16 unit
  const bytes = Buffer.byteLength(body, "utf8");
  if (bytes > MAX_TEXT_BODY_BYTES)
    throw new UsageError(
      `the message has ${bytes} bytes; one message holds at most ${MAX_TEXT_BODY_BYTES} bytes (60 KiB) of UTF-8: split it into several`,
    );
}

/** The longest group name, in UTF-8 bytes. */
export const MAX_GROUP_NAME_BYTES = 256;

/** The longest display name, in UTF-8 bytes. */
export const MAX_DISPLAY_NAME_BYTES = 64;

/** Length of the Ed25519 signature of a group state. */
export const GROUP_STATE_SIGNATURE_BYTES = 64;

/** Most members (and most admins) a group state lists: the relay's MAX_GROUP_MEMBERS. */
export const MAX_GROUP_STATE_MEMBERS = MAX_GROUP_MEMBERS;

/** The kinds of application message, the values of `k`. */
export const APP_MESSAGE_KINDS = ["text", "sender_key", "group_state", "profile", "device_list"] as const;

/** One of APP_MESSAGE_KINDS. */
export type AppMessageKind = (typeof APP_MESSAGE_KINDS)[number];

/** The longest device name, in UTF-8 bytes (SECURITY.md §17.7). */
export const MAX_DEVICE_NAME_BYTES = 64;

/**
 * The msgpack bounds of an application message: a map of scalars and arrays of strings, and
 * in a `device_list` an array of small maps, so nesting depth 3; the largest (a group state
 * with 256 members and 256 admins) holds 533 values.
 */
export const APP_MSGPACK_LIMITS: MsgpackLimits = Object.freeze({ maxDepth: 3, maxElements: 1024 });

// ---------------------------------------------------------------------------------------------
// Errors

/** Why an application message was refused. */
export type AppMessageErrorReason =
  /** Longer than MAX_APP_MESSAGE_BYTES. */
  | "too_large"
  /** Not msgpack of the profile, not a map, or a field missing, unknown or out of bounds. */
  | "malformed"
  /** `v` is an integer other than 1: sent by a newer (or broken) client. */
  | "unsupported_version"
  /** `k` is a string that is not one of APP_MESSAGE_KINDS: sent by a newer (or broken) client. */
  | "unknown_kind";

/**
 * An application message that decrypted (so its authenticated sender produced it) but is not
 * a valid v1 message. A CodecError (code "CODEC"); `reason` lets the client say "sent by a
 * newer version" for unsupported_version and unknown_kind. The message names fields and sizes,
 * never the content.
 */
export class AppMessageError extends CodecError {
  /** Why the message was refused. */
  readonly reason: AppMessageErrorReason;
  constructor(reason: AppMessageErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** What a receiver tells the user about a refused application message (it names nothing secret). */
export function appMessageErrorText(e: AppMessageError): string {
  return e.reason === "unsupported_version" || e.reason === "unknown_kind"
    ? "sent by a newer version of SocketMessenger"
    : "the message is malformed";
}

// ---------------------------------------------------------------------------------------------
// Field schemas

/**
 * A username as the relay stores it, in its canonical form only (src/wire/username.ts). Unlike
 * the wire's usernameSchema it does not lowercase: a signed group state must be read exactly as
 * it was signed.
 */
export const canonicalUsername: Schema<string> = {
  expected: USERNAME_RULE,
  parse(value, path) {
    if (typeof value !== "string") rejectField(path, USERNAME_RULE, value);
    if (!isValidUsername(value)) rejectField(path, USERNAME_RULE);
    return value;
  },
};

const LONE_SURROGATE = /\p{Cs}/u;
const TEXT_BODY_EXPECTED = `a string of 1..${MAX_TEXT_BODY_BYTES} bytes`;

/**
 * A text body: any well-formed Unicode of 1..MAX_TEXT_BODY_BYTES UTF-8 bytes. Unlike `str`,
 * line breaks, tabs and other control characters are allowed on the wire: they are the
 * sender's text, and text-rules.ts makes them harmless for the terminal at display time.
 * (A decoded string is always well-formed: the msgpack scan refuses invalid UTF-8; the check
 * matters when encoding a string with a lone surrogate.)
 */
export const textBody: Schema<string> = {
  expected: TEXT_BODY_EXPECTED,
  parse(value, path) {
    // A UTF-16 code unit is at least one UTF-8 byte: a cheap bound before counting.
    if (typeof value !== "string" || value.length === 0 || value.length > MAX_TEXT_BODY_BYTES) {
      rejectField(path, TEXT_BODY_EXPECTED, value);
    }
    if (utf8Length(value) > MAX_TEXT_BODY_BYTES) rejectField(path, TEXT_BODY_EXPECTED, value);
    if (LONE_SURROGATE.test(value)) rejectField(path, "well-formed Unicode");
    return value;
  },
};

/** `schema`, then `check` on its result: `check` returns what was wrong, or undefined. */
function refine<T>(schema: Schema<T>, check: (value: T) => string | undefined): Schema<T> {
  return {
    expected: schema.expected,
    parse(value, path) {
      const parsed = schema.parse(value, path);
      const problem = check(parsed);
      if (problem !== undefined) throw new ProtocolError("BAD_MESSAGE", `${path}: ${problem}`);
      return parsed;
    },
  };
}

/** True when every name is strictly greater than the one before (so also no duplicates). */
function strictlyAscending(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i++) if (!((names[i - 1] as string) < (names[i] as string))) return false;
  return true;
}

const memberList = arrayOf(canonicalUsername, { min: 1, max: MAX_GROUP_STATE_MEMBERS });

// ---------------------------------------------------------------------------------------------
// Message schemas (SECURITY.md §15.2)

/** `v`: the integer 1 in any msgpack integer encoding (a 64-bit one decodes as a bigint). */
const version: Schema<typeof APP_MESSAGE_VERSION> = {
  expected: "the version 1",
  parse(value, path) {
    if (value !== APP_MESSAGE_VERSION && value !== BigInt(APP_MESSAGE_VERSION))
      rejectField(path, "the version 1", value);
    return APP_MESSAGE_VERSION;
  },
};

const header = <const K extends AppMessageKind>(k: K) => ({ v: version, k: literal(k) });

/** `text`: a chat message. SECURITY.md §15.2.1. */
export const textMessageSchema = obj({
  ...header("text"),
  /** The relay's chat id the sender meant it for. */
  chat: uint53(),
  /** The sender's sequence number in this chat: 1, 2, 3, … one per text message (sequence.ts). */
  seq: u32({ min: 1 }),
  /** The sender's clock when sending, in milliseconds since the Unix epoch. */
  ts: uint53(),
  /** The text. */
  body: textBody,
});

/** `sender_key`: the sender's group sender key, sent over the pairwise session. SECURITY.md §15.2.2. */
export const senderKeyMessageSchema = obj({
  ...header("sender_key"),
  chat: uint53(),
  /** The group state epoch the sender had accepted when it sent this key. */
  epoch: u32({ min: 1 }),
  /** crypto/sender-keys.ts distributionMessage: 73 bytes (SECURITY.md §7.3). */
  distribution: bin({ len: SENDER_DISTRIBUTION_BYTES }),
});

/**
 * `group_state`: a group's membership and name, signed by an admin. SECURITY.md §15.2.3, §15.4.
 * Besides the field bounds: `members` and `admins` strictly ascending (sorted, no duplicates)
 * and every admin a member.
 */
export const groupStateMessageSchema = refine(
  obj({
    ...header("group_state"),
    chat: uint53(),
    epoch: u32({ min: 1 }),
    name: str({ max: MAX_GROUP_NAME_BYTES }),
    members: memberList,
    admins: memberList,
    /** The admin who signed it (who may no longer be a member: an admin leaving). */
    by: canonicalUsername,
    ts: uint53(),
    signature: bin({ len: GROUP_STATE_SIGNATURE_BYTES }),
  }),
  (s) => {
    if (!strictlyAscending(s.members)) return "members must be sorted ascending without duplicates";
    if (!strictlyAscending(s.admins)) return "admins must be sorted ascending without duplicates";
    const members = new Set(s.members);
    if (!s.admins.every((a) => members.has(a))) return "every admin must be a member";
    return undefined;
  },
);

/** `profile`: the sender's display name. SECURITY.md §15.2.4. */
export const profileMessageSchema = obj({
  ...header("profile"),
  /** A single line without control or bidi-override characters; may be empty (no display name). */
  display_name: str({ max: MAX_DISPLAY_NAME_BYTES }),
});

/** One device's name in a `device_list` message. */
const deviceNameSchema = obj({
  id: u32({ min: 1 }),
  /** A label string: one line without control or bidi-override characters. */
  name: str({ max: MAX_DEVICE_NAME_BYTES }),
});

/**
 * `device_list`: the sender account's signed device list and its devices' names, pairwise
 * only, in any chat (SECURITY.md §17.7). `list` is checked by §17.4 by the receiver, not here;
 * `names` has ids strictly ascending (so one name per device).
 */
export const deviceListMessageSchema = refine(
  obj({
    ...header("device_list"),
    /** The encoded DeviceList (crypto/device-list.ts, §17.3). */
    list: bin({ min: 1, max: MAX_DEVICE_LIST_BYTES }),
    names: arrayOf(deviceNameSchema, { max: MAX_DEVICES }),
  }),
  (m) => {
    for (let i = 1; i < m.names.length; i++)
      if (m.names[i]!.id <= m.names[i - 1]!.id) return "names must be sorted by id without duplicates";
    return undefined;
  },
);

/** A chat message. */
export type TextMessage = Infer<typeof textMessageSchema>;
/** A sender key hand-over. */
export type SenderKeyMessage = Infer<typeof senderKeyMessageSchema>;
/** A signed group state. */
export type GroupStateMessage = Infer<typeof groupStateMessageSchema>;
/** A display name announcement. */
export type ProfileMessage = Infer<typeof profileMessageSchema>;
/** A device list with its names. */
export type DeviceListMessage = Infer<typeof deviceListMessageSchema>;
/** Any application message; `k` tells which. */
export type AppMessage = TextMessage | SenderKeyMessage | GroupStateMessage | ProfileMessage | DeviceListMessage;
/** The application message of kind `K`. */
export type AppMessageOf<K extends AppMessageKind> = Extract<AppMessage, { k: K }>;

const SCHEMAS: { readonly [K in AppMessageKind]: Schema<AppMessageOf<K>> } = {
  text: textMessageSchema,
  sender_key: senderKeyMessageSchema,
  group_state: groupStateMessageSchema,
  profile: profileMessageSchema,
  device_list: deviceListMessageSchema,
};

function isKind(k: string): k is AppMessageKind {
  return (APP_MESSAGE_KINDS as readonly string[]).includes(k);
}

// ---------------------------------------------------------------------------------------------
// Decoding and encoding

/**
 * Checks an already decoded msgpack value as an application message and returns it typed (a
 * new object holding only the checked fields). Throws AppMessageError: "unsupported_version"
 * when `v` is an integer other than 1, "unknown_kind" when `k` is a string outside
 * APP_MESSAGE_KINDS, "malformed" for anything else that is not a valid message.
 */
export function parseAppMessage(value: unknown): AppMessage {
  if (!isPlainObject(value)) throw new AppMessageError("malformed", "app message: expected a map");
  const v = Object.hasOwn(value, "v") ? value.v : undefined;
  if (v !== APP_MESSAGE_VERSION && v !== BigInt(APP_MESSAGE_VERSION)) {
    const isInteger = typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v));
    if (isInteger) throw new AppMessageError("unsupported_version", "app message: unsupported version");
    throw new AppMessageError("malformed", "app message.v: expected the version 1");
  }
  const k = Object.hasOwn(value, "k") ? value.k : undefined;
  if (typeof k !== "string") throw new AppMessageError("malformed", "app message.k: expected the kind, a string");
  if (!isKind(k)) throw new AppMessageError("unknown_kind", "app message: unknown kind");
  try {
    return SCHEMAS[k].parse(value, k);
  } catch (e) {
    if (e instanceof ProtocolError) throw new AppMessageError("malformed", `app message ${e.message}`);
    throw e;
  }
}

/**
 * Decodes the plaintext of an envelope (already decrypted and unpadded) into an application
 * message (SECURITY.md §15.2). Refuses, with AppMessageError: more than MAX_APP_MESSAGE_BYTES
 * ("too_large", checked before parsing), anything that is not exactly one msgpack value of the
 * wire profile within APP_MSGPACK_LIMITS ("malformed"), then as parseAppMessage. Never throws
 * anything else for any input bytes.
 */
export function decodeAppMessage(bytes: Uint8Array): AppMessage {
  if (!(bytes instanceof Uint8Array)) throw new UsageError("an app message is decoded from a Uint8Array");
  if (bytes.length > MAX_APP_MESSAGE_BYTES) {
    throw new AppMessageError("too_large", `app message: longer than ${MAX_APP_MESSAGE_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = decodeMsgpack(bytes, APP_MSGPACK_LIMITS);
  } catch (e) {
    if (e instanceof ProtocolError) throw new AppMessageError("malformed", `app message: ${e.message}`);
    throw e;
  }
  return parseAppMessage(value);
}

/**
 * Encodes an application message as msgpack (SECURITY.md §15.2): keys `v`, `k`, then the
 * kind's fields in the order the spec lists them, optional fields left out. The message is
 * checked with the same rules as decoding first, so whatever this returns decodes back to an
 * equal message. Throws UsageError when the message would be refused by a receiver.
 */
export function encodeAppMessage(message: AppMessage): Uint8Array {
  let checked: AppMessage;
  try {
    checked = parseAppMessage(message);
  } catch (e) {
    if (e instanceof AppMessageError) throw new UsageError(`cannot encode an invalid app message: ${e.message}`);
    throw e;
  }
  const bytes = encodeMsgpack(checked);
  // Unreachable with the bounds above (a text message is at most ~61 500 bytes); kept as a guard.
  if (bytes.length > MAX_APP_MESSAGE_BYTES)
    throw new UsageError(`app message longer than ${MAX_APP_MESSAGE_BYTES} bytes`);
  return bytes;
}
