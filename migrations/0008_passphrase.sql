-- SocketMessenger relay schema, version 8: passphrase log-in (SECURITY.md §18.1, §18.5).
--
-- Numbered 8 because 6 and 7 are the device and per-device mailbox migrations of the same
-- release; it depends on neither.

-- Per account that has a passphrase, one record, replaced as a whole by passphrase_set (§18.6)
-- and deleted by passphrase_remove or when the account is deleted.
--   salt, t_cost, mem_kib: what passphrase_salt answers (§18.2; the relay refuses parameters
--     below the floor or above the maximum before it stores them).
--   login_public: the Ed25519 verifier of the login proof (§18.4).
--   backup: the sealed account backup (§18.3), opaque to the relay, 73..61513 bytes.
CREATE TABLE passphrase_records (
  account_id   bigint      PRIMARY KEY REFERENCES accounts (id),
  salt         bytea       NOT NULL CHECK (length(salt) = 16),
  t_cost       bigint      NOT NULL CHECK (t_cost BETWEEN 1 AND 4294967295),
  mem_kib      bigint      NOT NULL CHECK (mem_kib BETWEEN 1 AND 4294967295),
  login_public bytea       NOT NULL CHECK (length(login_public) = 32),
  backup       bytea       NOT NULL CHECK (length(backup) BETWEEN 73 AND 61513),
  updated_at   timestamptz NOT NULL
);

-- The failure bucket of passphrase_login per username (§18.5), for every name asked about,
-- existing or not (no foreign key: the limit must not reveal which names exist). `tokens`
-- failures are left; one comes back every 2 hours after `refilled_at`, up to 10. A name
-- without a row has a full bucket.
CREATE TABLE passphrase_failures (
  username    text        PRIMARY KEY CHECK (username = lower(username) AND length(username) BETWEEN 1 AND 64),
  tokens      integer     NOT NULL CHECK (tokens BETWEEN 0 AND 10),
  refilled_at timestamptz NOT NULL
);

-- The relay database's decoy secret (§18.5): one row, drawn by the first relay that starts
-- on this database (INSERT … ON CONFLICT DO NOTHING), so relays sharing it answer alike.
CREATE TABLE passphrase_decoy (
  one    boolean PRIMARY KEY DEFAULT true CHECK (one),
  secret bytea   NOT NULL CHECK (length(secret) = 32)
);
