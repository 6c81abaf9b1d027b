-- SocketMessenger relay schema, version 1.
--
-- Plain SQL that runs unchanged on PostgreSQL (15 and later) and on PGlite. The runner
-- (relay/store/migrate.ts) applies it in one transaction and records it in schema_migrations.
--
-- The relay stores ciphertext and the routing metadata it needs, nothing else: no plaintext,
-- no chat titles, only SHA-256 hashes of credentials, invite codes and admin tokens.
-- Every statement touching these tables lives in relay/store/store.ts.

-- One row per user. `username` is stored in lower case; uniqueness is case-insensitive
-- because every lookup and insert goes through lower(). Accounts are disabled, never deleted.
CREATE TABLE accounts (
  id              bigserial   PRIMARY KEY,
  username        text        NOT NULL CHECK (username = lower(username) AND length(username) BETWEEN 1 AND 64),
  credential_hash bytea       NOT NULL CHECK (length(credential_hash) = 32), -- SHA-256 of the 32-byte credential
  identity        bytea       NOT NULL CHECK (length(identity) = 128),       -- IdentityPublic (SECURITY.md §4.1)
  is_admin        boolean     NOT NULL DEFAULT false,
  disabled        boolean     NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT accounts_username_key UNIQUE (username)
);

-- Invite codes, by hash. A code is usable while uses_left > 0 and it has not expired.
CREATE TABLE invites (
  id           bigserial   PRIMARY KEY,
  code_hash    bytea       NOT NULL UNIQUE CHECK (length(code_hash) = 32),
  uses_left    integer     NOT NULL CHECK (uses_left >= 0),
  expires_at   timestamptz NULL,
  grants_admin boolean     NOT NULL DEFAULT false,
  created_by   bigint      NULL REFERENCES accounts (id),
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Operator tokens, by hash (reserved for operator authentication over the network).
CREATE TABLE admin_tokens (
  token_hash bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Signed prekeys (SECURITY.md §4.2). The one with the highest upload_seq is current;
-- upload_seq is a sequence rather than a timestamp so that "newest" never depends on clocks.
CREATE TABLE signed_prekeys (
  account_id bigint      NOT NULL REFERENCES accounts (id),
  key_id     bigint      NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
  public_key bytea       NOT NULL CHECK (length(public_key) = 32),
  signature  bytea       NOT NULL CHECK (length(signature) = 64),
  upload_seq bigserial   NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, key_id)
);
CREATE INDEX signed_prekeys_current_idx ON signed_prekeys (account_id, upload_seq DESC);

-- One-time prekeys: each row is handed out once, then deleted.
CREATE TABLE one_time_prekeys (
  account_id bigint NOT NULL REFERENCES accounts (id),
  key_id     bigint NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
  public_key bytea  NOT NULL CHECK (length(public_key) = 32),
  PRIMARY KEY (account_id, key_id)
);

-- Chats. A direct chat carries direct_key = '<smaller account id>:<larger account id>' so
-- that opening a chat with the same person again reuses it; group chats have none.
CREATE TABLE chats (
  id         bigserial   PRIMARY KEY,
  kind       text        NOT NULL CHECK (kind IN ('direct', 'group')),
  closed     boolean     NOT NULL DEFAULT false,
  direct_key text        NULL UNIQUE,
  created_by bigint      NULL REFERENCES accounts (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chats_direct_key_check CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);

-- Membership and per-member delivery state.
--   cursor: the highest message id this member acknowledged in this chat (never decreases).
--   member_since_message: messages with id <= this were sent before the member joined and
--   are not for them.
CREATE TABLE chat_members (
  chat_id              bigint      NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  account_id           bigint      NOT NULL REFERENCES accounts (id),
  role                 text        NOT NULL CHECK (role IN ('admin', 'member')),
  joined_at            timestamptz NOT NULL DEFAULT now(),
  cursor               bigint      NOT NULL DEFAULT 0,
  member_since_message bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (chat_id, account_id)
);
CREATE INDEX chat_members_account_idx ON chat_members (account_id, chat_id);

-- Ciphertext envelopes. `id` comes from one global sequence, so ids increase within every
-- chat; the store takes a per-chat lock while inserting so they also commit in id order
-- within a chat (a cursor can never skip a message that commits later).
-- recipient_id set = a directed envelope for that one member only.
-- (sender_id, idem) makes a retried send idempotent.
CREATE TABLE messages (
  id           bigserial   PRIMARY KEY,
  chat_id      bigint      NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  sender_id    bigint      NOT NULL REFERENCES accounts (id),
  recipient_id bigint      NULL REFERENCES accounts (id),
  idem         bytea       NOT NULL CHECK (length(idem) = 16),
  envelope     bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT messages_sender_idem_key UNIQUE (sender_id, idem)
);
CREATE INDEX messages_chat_id_idx ON messages (chat_id, id);
CREATE INDEX messages_created_at_idx ON messages (created_at);
