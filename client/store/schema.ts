/**
 * The local store's schema as numbered migrations. `PRAGMA user_version` holds the number of
 * the last one applied; migrate.ts applies the missing ones in order, each in one transaction.
 * A migration is never edited once released: a change is a new migration.
 *
 * Conventions. Every table is STRICT. Times are milliseconds since the epoch (INTEGER).
 * Booleans are INTEGER 0/1. Columns marked "sealed" hold `Sealer.seal(table, column, row key,
 * plaintext)` (sealed.ts): the row key is the table's primary key, in the order written in its
 * comment. Usernames are canonical (lowercase). Chat and message ids are the relay's.
 */

/** One migration: applied when `user_version < version`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const V1 = `
-- Store-wide values. 'key_check' holds a sealed constant (row key ['key_check']) that proves
-- the data key belongs to this store; 'next_signed_prekey_id' and 'next_one_time_prekey_id'
-- are id counters, so a prekey id is never reused.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY  NOT NULL
) STRICT;

-- The account of this profile: exactly one row (id = 1, the row key of its sealed columns).
CREATE TABLE account (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  relay_host       TEXT    NOT NULL,
  relay_port       INTEGER NOT NULL CHECK (relay_port BETWEEN 1 AND 65535),
  relay_key        BLOB    NOT NULL CHECK (length(relay_key) = 32),  -- pinned Noise static key
  username         TEXT    NOT NULL,
  display_name     BLOB,                                             -- sealed, text
  credential       BLOB    NOT NULL,                                 -- sealed, 32 bytes
  identity_secrets BLOB    NOT NULL,                                 -- sealed, Ed25519 seed 32 || X25519 private 32
  created_at       INTEGER NOT NULL
) STRICT;

-- Our signed prekeys (SECURITY.md §4.2), by key id. At most one is current; older ones are
-- kept for first messages still in flight.
CREATE TABLE signed_prekeys (
  id         INTEGER PRIMARY KEY CHECK (id BETWEEN 0 AND 4294967295),
  private    BLOB    NOT NULL,                                   -- sealed, 32 bytes
  public     BLOB    NOT NULL CHECK (length(public) = 32),
  signature  BLOB    NOT NULL CHECK (length(signature) = 64),
  created_at INTEGER NOT NULL,
  current    INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0, 1))
) STRICT;
CREATE UNIQUE INDEX signed_prekeys_current ON signed_prekeys (current) WHERE current = 1;

-- Our one-time prekeys, by key id; published = uploaded to the relay.
CREATE TABLE one_time_prekeys (
  id         INTEGER PRIMARY KEY CHECK (id BETWEEN 0 AND 4294967295),
  private    BLOB    NOT NULL,                                   -- sealed, 32 bytes
  public     BLOB    NOT NULL CHECK (length(public) = 32),
  published  INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT;

-- Pinned contact identities (trust on first use). pending_identity is a different key the relay
-- presented later; while it is set, sending to the contact stops until the user accepts it or
-- verifies it. verified: the user compared safety numbers for the pinned key.
CREATE TABLE contacts (
  username         TEXT    PRIMARY KEY,
  identity         BLOB    NOT NULL CHECK (length(identity) = 128),  -- IdentityPublic (§4.1)
  first_seen       INTEGER NOT NULL,
  verified         INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
  pending_identity BLOB    CHECK (pending_identity IS NULL OR length(pending_identity) = 128),
  key_changed_at   INTEGER,
  display_name     BLOB                                              -- sealed, text
) STRICT;

-- Pairwise sessions (SECURITY.md §5, §6), by (peer, base key). At most one current per peer.
CREATE TABLE sessions (
  peer       TEXT    NOT NULL REFERENCES contacts (username) ON DELETE CASCADE,
  base_key   BLOB    NOT NULL,
  state      BLOB    NOT NULL,                                   -- sealed, session state blob
  current    INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0, 1)),
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (peer, base_key)
) STRICT;
CREATE UNIQUE INDEX sessions_current ON sessions (peer) WHERE current = 1;

-- First (prekey) messages already accepted, so a replayed one is refused.
CREATE TABLE seen_prekey_messages (
  base_key BLOB    NOT NULL,
  spk_id   INTEGER NOT NULL,
  seen_at  INTEGER NOT NULL,
  PRIMARY KEY (base_key, spk_id)
) STRICT, WITHOUT ROWID;

-- Chats, by the relay's chat id. peer: the other member of a direct chat. name: set by the
-- chat's members (end to end) or locally; name_tag = keyed hash of its folded form, for lookup.
CREATE TABLE chats (
  id            INTEGER PRIMARY KEY CHECK (id >= 0),
  kind          TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
  peer          TEXT,
  name          BLOB,                                            -- sealed, text
  name_tag      BLOB,
  closed        INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
  my_role       TEXT    NOT NULL CHECK (my_role IN ('admin', 'member')),
  created_at    INTEGER NOT NULL,
  last_read_msg INTEGER NOT NULL DEFAULT 0,                      -- relay message id read up to
  CHECK ((kind = 'direct') = (peer IS NOT NULL)),
  CHECK ((name IS NULL) = (name_tag IS NULL))
) STRICT;
CREATE INDEX chats_peer ON chats (peer) WHERE peer IS NOT NULL;
CREATE INDEX chats_name_tag ON chats (name_tag) WHERE name_tag IS NOT NULL;

-- Members of each chat as last seen. announced: an admin's end-to-end signed announcement of
-- this member was seen (a member without one gets no sender keys: docs/ARCHITECTURE.md §3.3).
CREATE TABLE chat_members (
  chat_id   INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  username  TEXT    NOT NULL,
  role      TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
  announced INTEGER NOT NULL DEFAULT 0 CHECK (announced IN (0, 1)),
  PRIMARY KEY (chat_id, username)
) STRICT, WITHOUT ROWID;

-- Decrypted history. id is local (row key of body); relay_msg_id is null for an outgoing message
-- not yet acknowledged. sender_seq: the sender's in-message sequence number, to detect gaps.
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  chat_id      INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  relay_msg_id INTEGER,
  sender       TEXT    NOT NULL,
  sent_at      INTEGER NOT NULL,
  body         BLOB,                                             -- sealed, text; null if none
  direction    TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
  status       TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'delivered', 'failed', 'undecryptable')),
  sender_seq   INTEGER,
  stored_at    INTEGER NOT NULL,
  UNIQUE (chat_id, relay_msg_id)
) STRICT;
CREATE INDEX messages_chat ON messages (chat_id, id);
CREATE INDEX messages_sender_seq ON messages (chat_id, sender, sender_seq) WHERE sender_seq IS NOT NULL;

-- Envelopes to send, retried with the same idempotency id until the relay acknowledges them.
-- Ordered by rowid (insertion order). The envelope is already end-to-end encrypted.
CREATE TABLE outbox (
  idem       BLOB    PRIMARY KEY CHECK (length(idem) = 16),
  chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
  envelope   BLOB    NOT NULL,
  recipient  TEXT,
  created_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Sender keys (SECURITY.md §7) by (chat, sender, key id); own = ours.
CREATE TABLE sender_keys (
  chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  sender     TEXT    NOT NULL,
  key_id     INTEGER NOT NULL,
  state      BLOB    NOT NULL,                                   -- sealed, sender-key state blob
  own        INTEGER NOT NULL DEFAULT 0 CHECK (own IN (0, 1)),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (chat_id, sender, key_id)
) STRICT;

-- The last relay message id acknowledged in each chat (never decreases).
CREATE TABLE cursors (
  chat_id    INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
  last_acked INTEGER NOT NULL
) STRICT;
`;

const V2 = `
-- The sender's own clock for a text message (the \`ts\` inside the encryption, SECURITY.md
-- §15.2.1), beside sent_at (the relay's time); null for rows without text and rows stored
-- before this migration.
ALTER TABLE messages ADD COLUMN sender_ts INTEGER;
`;

const V3 = `
-- Events raised by stored incoming messages, as JSON, in commit order, so that a running
-- \`smsg listen\` also reports what another process on this profile stored first
-- (event-journal.ts). AUTOINCREMENT: an id is never reused, so a reader's mark stays valid.
CREATE TABLE event_journal (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  event      BLOB    NOT NULL                                    -- sealed, JSON text
) STRICT;
CREATE INDEX event_journal_created ON event_journal (created_at);
`;

const V4 = `
-- The group records client/engine/group/ keeps besides sender keys (group-states.ts). Schema
-- 1-3 stores kept them in sender_keys under sender names that are never usernames ('' and
-- '?user'); ClientStore.open moves such rows here, resealed (SQL cannot reseal).

-- Per group chat: the accepted admin-signed membership (SECURITY.md §15.4) and who holds our
-- current sender key. Row key of both sealed columns: [chat_id].
CREATE TABLE group_states (
  chat_id INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
  state   BLOB    NOT NULL,                                      -- sealed, encoded group_state app message
  holders BLOB                                                   -- sealed, JSON text {keyId, users, profiled}; null until our key went out
) STRICT;

-- Pending sender keys (SECURITY.md §15.4.4): a member's sender_key app message naming an epoch
-- newer than our accepted state (or sent before any), kept until a state covering it is
-- accepted; the latest per sender. epoch: the message's. Row key of the sealed column:
-- [chat_id, sender].
CREATE TABLE pending_sender_keys (
  chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  sender  TEXT    NOT NULL,
  epoch   INTEGER NOT NULL CHECK (epoch >= 0),
  message BLOB    NOT NULL,                                      -- sealed, encoded sender_key app message
  PRIMARY KEY (chat_id, sender)
) STRICT, WITHOUT ROWID;
`;

const V5 = `
-- Our own standing in a group (SECURITY.md §15.4.6). departure: null while we are a member,
-- 'left' once we left it, 'removed' once an admin's signed state or the relay says we are no
-- longer in it; departed_by: who removed us, when known. member_since: the local message id
-- our current membership starts after: a sender's numbers are counted from their first
-- message after it (§15.3.1, unanchored), never from before we could read; seq_from_one: we
-- were in the group's first state (epoch 1), so numbers count from 1 (anchored) instead.
ALTER TABLE chats ADD COLUMN departure TEXT CHECK (departure IN ('left', 'removed'));
ALTER TABLE chats ADD COLUMN departed_by TEXT;
ALTER TABLE chats ADD COLUMN member_since INTEGER NOT NULL DEFAULT 0 CHECK (member_since >= 0);
ALTER TABLE chats ADD COLUMN seq_from_one INTEGER NOT NULL DEFAULT 0 CHECK (seq_from_one IN (0, 1));
-- gone: JSON array of the members of the accepted state we saw gone from the relay's list
-- (left without a signed state yet) and reported once as having left (§15.4.3).
ALTER TABLE group_states ADD COLUMN gone TEXT;
`;

const V6 = `
-- Several devices per account (SECURITY.md §17). A profile is one device of its account.
-- device_id: this device's id (1 for every profile made before §17 and for a joined one).
-- identity_secrets stays this DEVICE's identity (device 1: the account key itself, §17.1).
-- account_identity: the account IdentityPublic (§4.1), null on device 1 (its own identity is
-- the account's). account_signing_seed: sealed, the account's Ed25519 seed, null on device 1
-- (the first half of identity_secrets). backup_key: sealed, the §18.2 backup key kept to
-- refresh the passphrase backup (§18.6), null without a passphrase. Row key: [1].
ALTER TABLE account ADD COLUMN device_id INTEGER NOT NULL DEFAULT 1 CHECK (device_id BETWEEN 1 AND 4294967295);
ALTER TABLE account ADD COLUMN account_identity BLOB CHECK (account_identity IS NULL OR length(account_identity) = 128);
ALTER TABLE account ADD COLUMN account_signing_seed BLOB;
ALTER TABLE account ADD COLUMN backup_key BLOB;

-- The accepted device list of each account we talk to, our own included (§17.4): the list
-- exactly as received, the 64-byte account identity key it was verified under (the pinned
-- one; a changed account key drops the row), and highest, the highest device id of any list
-- accepted for the account. Public data: not sealed.
CREATE TABLE device_lists (
  username    TEXT    PRIMARY KEY,
  account_key BLOB    NOT NULL CHECK (length(account_key) = 64),
  list        BLOB    NOT NULL,
  version     INTEGER NOT NULL CHECK (version >= 1),
  highest     INTEGER NOT NULL CHECK (highest >= 1),
  accepted_at INTEGER NOT NULL
) STRICT;

-- What we know of each listed device beyond the list: when a list holding it was first
-- accepted (shown as "added"), and its name (sealed text, row key [username, device_id]),
-- which travels inside the encryption (§17.7). A row exists exactly for the devices of the
-- accepted list.
CREATE TABLE device_info (
  username  TEXT    NOT NULL REFERENCES device_lists (username) ON DELETE CASCADE,
  device_id INTEGER NOT NULL CHECK (device_id >= 1),
  added_at  INTEGER NOT NULL,
  name      BLOB,
  PRIMARY KEY (username, device_id)
) STRICT, WITHOUT ROWID;

-- Sessions are per (peer account, peer device) (§17.5): every existing session is device 1's.
-- The base key still identifies a session (it is a fresh X3DH ephemeral key), so the primary
-- key and the sealed row key [peer, base_key] stay.
ALTER TABLE sessions ADD COLUMN peer_device INTEGER NOT NULL DEFAULT 1 CHECK (peer_device >= 1);
DROP INDEX sessions_current;
CREATE UNIQUE INDEX sessions_current ON sessions (peer, peer_device) WHERE current = 1;

-- Sender keys are per (group, sender account, sender device) (§17.5). Rebuilt to widen the
-- primary key; every existing row is device 1's. Sealed row key: [chat_id, sender, key_id]
-- for device 1 (as before), [chat_id, sender, key_id, sender_device] for any other device.
CREATE TABLE sender_keys_v6 (
  chat_id       INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  sender        TEXT    NOT NULL,
  sender_device INTEGER NOT NULL DEFAULT 1 CHECK (sender_device >= 1),
  key_id        INTEGER NOT NULL,
  state         BLOB    NOT NULL,
  own           INTEGER NOT NULL DEFAULT 0 CHECK (own IN (0, 1)),
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (chat_id, sender, sender_device, key_id)
) STRICT;
INSERT INTO sender_keys_v6 (chat_id, sender, sender_device, key_id, state, own, created_at)
  SELECT chat_id, sender, 1, key_id, state, own, created_at FROM sender_keys ORDER BY rowid;
DROP TABLE sender_keys;
ALTER TABLE sender_keys_v6 RENAME TO sender_keys;

-- The device a message came from (§17.5: numbers are counted per sending device; "sent from
-- Laptop" for our own other devices). Null: device 1, and every row stored before §17.
ALTER TABLE messages ADD COLUMN sender_device INTEGER CHECK (sender_device IS NULL OR sender_device >= 2);
DROP INDEX messages_sender_seq;
CREATE INDEX messages_sender_seq ON messages (chat_id, sender, sender_device, sender_seq) WHERE sender_seq IS NOT NULL;
`;

const V7 = `
-- Sessions with our own account's other devices (SECURITY.md §17.5: a 1:1 message is also
-- encrypted to the sender's other devices, and their copies decrypted here) have our own
-- username as peer, which is never a contact: the foreign key to contacts refused them. The
-- table is rebuilt without it (contacts are never deleted, so its cascade never ran); every
-- column, the primary key and the sealed row key [peer, base_key] stay, so rows copy as they are.
-- The triggers keep what the foreign key guarded: a session's peer is a contact or our own account.
CREATE TABLE sessions_v7 (
  peer        TEXT    NOT NULL,
  base_key    BLOB    NOT NULL,
  state       BLOB    NOT NULL,
  current     INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0, 1)),
  updated_at  INTEGER NOT NULL,
  peer_device INTEGER NOT NULL DEFAULT 1 CHECK (peer_device >= 1),
  PRIMARY KEY (peer, base_key)
) STRICT;
INSERT INTO sessions_v7 (peer, base_key, state, current, updated_at, peer_device)
  SELECT peer, base_key, state, current, updated_at, peer_device FROM sessions ORDER BY rowid;
DROP TABLE sessions;
ALTER TABLE sessions_v7 RENAME TO sessions;
CREATE UNIQUE INDEX sessions_current ON sessions (peer, peer_device) WHERE current = 1;
CREATE TRIGGER sessions_peer_insert BEFORE INSERT ON sessions
  WHEN NOT EXISTS (SELECT 1 FROM contacts WHERE username = NEW.peer)
   AND NOT EXISTS (SELECT 1 FROM account WHERE username = NEW.peer)
BEGIN SELECT RAISE(ABORT, 'a session peer must be a contact or our own account'); END;
CREATE TRIGGER sessions_peer_update BEFORE UPDATE OF peer ON sessions
  WHEN NOT EXISTS (SELECT 1 FROM contacts WHERE username = NEW.peer)
   AND NOT EXISTS (SELECT 1 FROM account WHERE username = NEW.peer)
BEGIN SELECT RAISE(ABORT, 'a session peer must be a contact or our own account'); END;
`;

// Version 8: per-device copies in the outbox.
const V8 = `
-- A 1:1 message goes to every device of both accounts as per-device copies under one idem
-- (SECURITY.md §17.5, \`send_copies\` §17.8), and is encrypted again to the current devices when
-- the relay answers DEVICE_LIST_STALE (§17.7). The outbox is rebuilt so that envelope may be
-- null (entries keep their order: rowids are assigned in the old order).
-- envelope: the one envelope of a \`send\` (a group message, a pairwise hand-over to
-- recipient, a 1:1 message over a relay before §17); null when the entry's copies are in
-- outbox_copies. app: sealed, the encoded application message of a 1:1 message (row key
-- [idem]), kept so that it can be encrypted again; null for every other entry.
CREATE TABLE outbox_v7 (
  idem       BLOB    PRIMARY KEY CHECK (length(idem) = 16),
  chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
  envelope   BLOB,
  recipient  TEXT,
  created_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  app        BLOB,
  CHECK (envelope IS NOT NULL OR app IS NOT NULL)
) STRICT;
INSERT INTO outbox_v7 (idem, chat_id, message_id, envelope, recipient, created_at, attempts)
  SELECT idem, chat_id, message_id, envelope, recipient, created_at, attempts FROM outbox ORDER BY rowid;
DROP TABLE outbox;
ALTER TABLE outbox_v7 RENAME TO outbox;

-- The per-device copies of an outbox entry sent with send_copies, in the order they go out
-- (position 0, 1, …). The envelopes are already end-to-end encrypted: not sealed again.
CREATE TABLE outbox_copies (
  idem      BLOB    NOT NULL REFERENCES outbox (idem) ON DELETE CASCADE ON UPDATE CASCADE,
  position  INTEGER NOT NULL CHECK (position >= 0),
  recipient TEXT    NOT NULL,
  device    INTEGER NOT NULL CHECK (device BETWEEN 1 AND 4294967295),
  envelope  BLOB    NOT NULL,
  PRIMARY KEY (idem, position)
) STRICT, WITHOUT ROWID;
`;

// Version 9: what a device needs to keep the passphrase backup current (SECURITY.md §18.6 "Update").
const V9 = `
-- backup_params: sealed, the passphrase record this device set or logged in with: salt (16)
-- || u32be t || u32be mem_kib || login_public (32); backup_update names login_public, and the
-- backup is sealed under salt and parameters (§18.3). backup_digest: sealed, SHA-256 of the
-- account identity key (64) || the account-state snapshot (§17.6.1) last sealed or opened,
-- to tell whether the state changed since. Both are set with backup_key and cleared with it,
-- never one without the others. Row key: [1].
ALTER TABLE account ADD COLUMN backup_params BLOB;
ALTER TABLE account ADD COLUMN backup_digest BLOB;
-- A backup_key kept by schema 6-8 has neither: it cannot seal a backup the relay would take
-- (the salt and parameters are in its associated data, the update names the verifier), so it
-- is dropped. The device keeps the backup current again after its next passphrase set or change;
-- backup_key_dropped = 1 until then, so the user is told so once (client/engine/backup-refresh.ts).
ALTER TABLE account ADD COLUMN backup_key_dropped INTEGER NOT NULL DEFAULT 0;
UPDATE account SET backup_key_dropped = 1 WHERE backup_key IS NOT NULL;
UPDATE account SET backup_key = NULL;
`;

/** Every migration, in order. The last one's version is the schema this client writes. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "init", sql: V1 },
  { version: 2, name: "sender_ts", sql: V2 },
  { version: 3, name: "event_journal", sql: V3 },
  { version: 4, name: "group_states", sql: V4 },
  { version: 5, name: "group_departures", sql: V5 },
  { version: 6, name: "devices", sql: V6 },
  { version: 7, name: "own_device_sessions", sql: V7 },
  { version: 8, name: "outbox_copies", sql: V8 },
  { version: 9, name: "backup_material", sql: V9 },
];

/** The schema version this client creates and understands. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;
