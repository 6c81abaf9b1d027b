/**
 * One or more valid samples of every message in the v1 catalogue, with every optional field
 * present in at least one of them. The round-trip and rejection tests are driven by these.
 */
import type { ClientMessage, RelayMessage } from "../../src/wire/index.js";

/** `n` bytes, each `fill`. */
export const bytes = (n: number, fill = 0xab): Uint8Array => new Uint8Array(n).fill(fill);

const spk = { key_id: 7, public_key: bytes(32, 1), signature: bytes(64, 2) };
const opk = (id: number) => ({ key_id: id, public_key: bytes(32, id & 0xff) });
const BIG = Number.MAX_SAFE_INTEGER; // a uint53 past 32 bits

export const CLIENT_SAMPLES: readonly ClientMessage[] = [
  { t: "hello", v: 1, client: "smsg/0.1.0 (linux)" },
  {
    t: "join",
    id: 1,
    invite: bytes(32, 3),
    username: "alice",
    credential: bytes(32, 4),
    identity: bytes(128, 5),
    signed_prekey: spk,
    one_time_prekeys: [opk(100), opk(101), opk(0xffffffff)],
    signature: bytes(64, 6),
  },
  { t: "login", id: 2, username: "alice", credential: bytes(32, 4), signature: bytes(64, 6) },
  { t: "upload_prekeys", id: 3, one_time_prekeys: [] },
  { t: "upload_prekeys", id: 4, signed_prekey: spk, one_time_prekeys: [opk(5)] },
  { t: "fetch_bundle", id: 5, username: "bob" },
  { t: "lookup_user", id: 6, username: "bob.smith-2" },
  { t: "open_direct", id: 7, username: "bob" },
  { t: "create_group", id: 8, members: ["bob", "carol"] },
  { t: "add_member", id: 9, chat: 12, username: "dave" },
  { t: "remove_member", id: 10, chat: 12, username: "dave" },
  { t: "leave_chat", id: 11, chat: 12 },
  { t: "close_chat", id: 12, chat: 12 },
  { t: "reopen_chat", id: 13, chat: BIG },
  { t: "list_chats", id: 14 },
  { t: "list_chats", id: 15, after: 2 ** 40 },
  { t: "list_members", id: 16, chat: 12 },
  { t: "send", id: 17, chat: 12, idem: bytes(16, 7), envelope: bytes(300, 8) },
  { t: "send", id: 0xffffffff, chat: 12, idem: bytes(16, 7), envelope: bytes(1, 8), to: "bob" },
  { t: "sync", id: 18 },
  { t: "sync", id: 19, limit: 1000 },
  { t: "ack", chat: 12, upto: 2 ** 33 },
  { t: "history", id: 20, chat: 12 },
  { t: "history", id: 21, chat: 12, after: 0, limit: 1 },
  { t: "ping", n: 0 },
  { t: "pong", n: 0xffffffff },
];

const members = [
  { username: "alice", role: "admin" as const },
  { username: "bob", role: "member" as const },
];

export const RELAY_SAMPLES: readonly RelayMessage[] = [
  { t: "welcome", v: 1, relay: "team relay" },
  { t: "joined", id: 1, username: "alice", is_admin: true },
  { t: "logged_in", id: 2, username: "alice", is_admin: false, stock: 42 },
  { t: "prekeys_stored", id: 3, stock: 200 },
  { t: "bundle", id: 5, username: "bob", identity: bytes(128, 9), signed_prekey: spk },
  { t: "bundle", id: 5, username: "bob", identity: bytes(128, 9), signed_prekey: spk, one_time_prekey: opk(3) },
  { t: "user", id: 6, username: "bob", identity: bytes(128, 9) },
  { t: "chat", id: 7, chat: { id: 12, kind: "direct", closed: false, members } },
  { t: "chat", id: 8, chat: { id: BIG, kind: "group", closed: true, members: [members[0]!] } },
  {
    t: "chats",
    id: 14,
    chats: [
      { id: 12, kind: "direct", closed: false, role: "member", member_count: 2, peer: "bob" },
      { id: 13, kind: "group", closed: true, role: "admin", member_count: 256 },
    ],
    more: true,
  },
  { t: "chats", id: 15, chats: [], more: false },
  { t: "members", id: 16, chat: 12, members },
  { t: "ok", id: 9 },
  { t: "sent", id: 17, msg: 1, ts: 1_700_000_000_000, duplicate: false },
  { t: "msg", chat: 12, msg: 2 ** 40, from: "bob", ts: 1_700_000_000_000, envelope: bytes(300, 8) },
  { t: "msg", chat: 12, msg: 1, from: "bob", ts: 0, envelope: bytes(1), to: "alice" },
  { t: "synced", id: 18, more: false },
  { t: "history_end", id: 20, more: true },
  { t: "chat_event", chat: 12, event: "added", user: "dave", by: "alice" },
  { t: "chat_event", chat: 12, event: "closed", by: "alice" },
  { t: "prekeys_low", stock: 3 },
  { t: "error", code: "SHUTTING_DOWN", message: "relay is stopping" },
  { t: "error", id: 17, code: "CHAT_CLOSED", message: "" },
  { t: "ping", n: 1 },
  { t: "pong", n: 1 },
];

/**
 * The optional fields of the catalogue, as paths (array items as [0]): leaving any other field
 * out must be refused.
 */
export const OPTIONAL_FIELDS = new Set([
  "upload_prekeys.signed_prekey",
  "list_chats.after",
  "send.to",
  "sync.limit",
  "history.after",
  "history.limit",
  "bundle.one_time_prekey",
  "chats.chats[0].peer",
  "msg.to",
  "chat_event.user",
  "error.id",
]);
