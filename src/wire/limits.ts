/**
 * The numbers of wire protocol v1 (SECURITY.md §14.1). Both sides check them: a sender refuses to
 * encode past them, a receiver refuses to decode past them. Changing one changes the protocol.
 */

/**
 * The newest protocol version: what a client's `hello` asks for and a relay's `welcome` confirms
 * when both speak it. Version 2 adds the compact hot frames (SECURITY.md §14.9).
 */
export const PROTOCOL_VERSION = 2;

/** The oldest version this side still speaks: a relay answers a version-1 `hello` in version 1. */
export const OLDEST_PROTOCOL_VERSION = 1;

/** The first version with the compact hot frames (SECURITY.md §14.9). */
export const COMPACT_PROTOCOL_VERSION = 2;

/** Bytes of the frame header: the payload length as an unsigned 32-bit big-endian integer. */
export const FRAME_HEADER_BYTES = 4;

/**
 * The default largest frame payload either side accepts: 128 KiB, about twice the largest v1
 * message (a `send` or `msg` carrying a MAX_ENVELOPE_BYTES envelope is under 65,700 bytes).
 */
export const DEFAULT_MAX_FRAME_BYTES = 128 * 1024;

/** The largest encrypted envelope one `send` or `msg` carries: 64 KiB. */
export const MAX_ENVELOPE_BYTES = 65536;

/** Most one-time prekeys one `join` or `upload_prekeys` carries. */
export const MAX_PREKEYS_PER_UPLOAD = 200;

/** Most members a group has, its creator included. */
export const MAX_GROUP_MEMBERS = 256;

/** Most chat summaries one `chats` reply carries; `more` says whether another page follows. */
export const MAX_CHATS_PER_PAGE = 500;

/** Largest `limit` of a `sync` or `history` request. */
export const MAX_PAGE_LIMIT = 1000;

/**
 * Most entries of a `sync` request's `have` (SECURITY.md §14.7 "Held messages"): the pushed
 * messages the client already stored beyond its cursor, which the reply then carries as `held`
 * stubs without their envelopes. As many as one reply can hold.
 */
export const MAX_SYNC_HAVE = MAX_PAGE_LIMIT;

/** Longest free-text strings, in UTF-8 bytes: `hello.client`, `welcome.relay`. */
export const MAX_NAME_BYTES = 64;

/** Longest `error.message`, in UTF-8 bytes. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;

/** Deepest container nesting the msgpack scan accepts (the top-level map is depth 1). */
export const MAX_MSGPACK_DEPTH = 16;

/** Most msgpack values (map keys included) one message may hold. */
export const MAX_MSGPACK_ELEMENTS = 10_000;

/** Largest encoded device list (SECURITY.md §17.3: 16 entries of 196 bytes plus the header and signature). */
export const MAX_DEVICE_LIST_BYTES = 3247;

/** Most devices an account may list (SECURITY.md §17.3, MAX_DEVICES). */
export const MAX_ACCOUNT_DEVICES = 16;

/**
 * Most names in one `fetch_device_list_versions` (SECURITY.md §17.8): a whole group, the
 * caller's own account included (MAX_GROUP_MEMBERS).
 */
export const MAX_LIST_VERSION_NAMES = 256;

/** Most per-device copies in one `send_copies` (SECURITY.md §17.8). */
export const MAX_SEND_COPIES = 64;

/** Length of a device link's id (SECURITY.md §17.6). */
export const LINK_ID_WIRE_BYTES = 16;

/** Smallest and largest sealed account backup (SECURITY.md §18.3: 73 bytes of overhead, 61,440 of state). */
export const MIN_ACCOUNT_BACKUP_BYTES = 73;
export const MAX_ACCOUNT_BACKUP_BYTES = 61513;

/** Largest piece of a backup in one `backup_put` or `backup_part` (SECURITY.md §18.6). */
export const MAX_BACKUP_PIECE_BYTES = 65536;
