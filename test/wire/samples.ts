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
  // Held messages (SECURITY.md §14.7): the pushed messages the client holds already.
  {
    t: "sync",
    id: 19,
    limit: 500,
    have: [
      [12, 2 ** 40],
      [0, 0],
    ],
  },
  { t: "ack", chat: 12, upto: 2 ** 33 },
  { t: "history", id: 20, chat: 12 },
  { t: "history", id: 21, chat: 12, after: 0, limit: 1 },
  // Devices and passphrase log-in (SECURITY.md §17.8, §18.6).
  { t: "login", id: 22, username: "alice", credential: bytes(32, 4), signature: bytes(64, 6), device: 3 },
  { t: "fetch_bundle", id: 23, username: "bob", device: 2 },
  {
    t: "send_copies",
    id: 24,
    chat: 12,
    idem: bytes(16, 7),
    copies: [
      { to: "bob", device: 1, envelope: bytes(200, 8) },
      { to: "alice", device: 2, envelope: bytes(1, 9) },
    ],
  },
  { t: "publish_device_list", id: 25, list: bytes(3247, 1) },
  { t: "fetch_device_list", id: 26, username: "bob" },
  { t: "fetch_device_list_versions", id: 34, usernames: ["alice", "bob", "carol"] },
  {
    t: "register_device",
    id: 27,
    username: "alice",
    device: 2,
    credential: bytes(32, 4),
    identity: bytes(128, 9),
    signed_prekey: spk,
    one_time_prekeys: [opk(5)],
    signature: bytes(64, 6),
  },
  { t: "link_open", id: 28, link: bytes(16, 2) },
  { t: "link_post", id: 29, link: bytes(16, 2), message: bytes(65536, 3) },
  { t: "link_close", id: 30, link: bytes(16, 2) },
  { t: "passphrase_salt", id: 31, username: "alice" },
  { t: "passphrase_login", id: 32, username: "alice", proof: bytes(64, 5) },
  { t: "backup_get", id: 33, offset: 65536 },
  { t: "backup_put", id: 34, offset: 0, data: bytes(61513, 6) },
  {
    t: "passphrase_set",
    id: 35,
    salt: bytes(16, 1),
    t_cost: 3,
    mem_kib: 262144,
    login_public: bytes(32, 2),
    size: 73,
  },
  { t: "passphrase_remove", id: 36 },
  { t: "backup_update", id: 37, login_public: bytes(32, 3), size: 61513 },
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
  { t: "held", chat: 12, msg: 2 ** 40 },
  { t: "synced", id: 18, more: false },
  { t: "history_end", id: 20, more: true },
  { t: "chat_event", chat: 12, event: "added", user: "dave", by: "alice" },
  { t: "chat_event", chat: 12, event: "closed", by: "alice" },
  { t: "prekeys_low", stock: 3 },
  { t: "bundle", id: 23, username: "bob", identity: bytes(128, 9), signed_prekey: spk, device: 2 },
  { t: "msg", chat: 12, msg: 3, from: "alice", ts: 1, envelope: bytes(200, 8), from_device: 2 },
  { t: "device_list", id: 26, username: "bob" },
  {
    t: "device_list",
    id: 26,
    username: "alice",
    list: bytes(213, 1),
    seen: [{ device: 1, at: 1_700_000_000_000 }],
    highest: 3,
  },
  { t: "device_list_versions", id: 34, versions: [3, 0, 0xffffffff] },
  { t: "device_list_changed", username: "alice", version: 7 },
  { t: "link_msg", link: bytes(16, 2), message: bytes(57, 3) },
  { t: "passphrase_params", id: 31, salt: bytes(16, 1), t_cost: 3, mem_kib: 262144 },
  { t: "backup_info", id: 32, username: "alice", identity: bytes(128, 9), size: 61513 },
  { t: "backup_part", id: 33, offset: 0, data: bytes(73, 4) },
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
  "sync.have",
  "history.after",
  "history.limit",
  "bundle.one_time_prekey",
  "chats.chats[0].peer",
  "msg.to",
  "chat_event.user",
  "error.id",
  "login.device",
  "fetch_bundle.device",
  "bundle.device",
  "msg.from_device",
  "device_list.list",
  "device_list.seen",
  "device_list.highest",
]);
