-- SocketMessenger relay schema, version 6: several devices per account (SECURITY.md §17.8).
--
-- An account holds a signed device list (§17.3) and one row per device it ever listed. The
-- account's `identity` stays its account key (§17.1); each device has its own IdentityPublic,
-- credential hash and prekeys. Device 1 is the account key itself: every account made before
-- this migration gets a device-1 row from its own identity and credential hash, and `join`
-- creates it from now on (relay/store/accounts.ts). An account without a `device_lists` row is
-- a one-device account (a client before §17) whose only device is 1.
--
-- A relay of an earlier version must not run against this schema: its prekey statements name
-- the old keys. The migration runner makes such a relay refuse to start (relay/store/migrate.ts).

-- The account's current list exactly as it signed it (§17.3), and its version (u32 ≥ 1).
CREATE TABLE device_lists (
  account_id bigint      PRIMARY KEY REFERENCES accounts (id),
  version    bigint      NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
  list       bytea       NOT NULL CHECK (length(list) BETWEEN 1 AND 3247),
  updated_at timestamptz NOT NULL
);

-- Every device an account ever listed; rows are never deleted, so the highest device_id is the
-- highest id ever listed and a removed id can never come back (§17.1, §17.4 step 6).
--   identity: the device's IdentityPublic (§4.1) exactly as its list entry carries it.
--   credential_hash: SHA-256 of the device's credential; NULL while the device is listed but
--     has not registered yet (register_device, §17.8).
--   removed_at: set when a published list left the device out; its logins then get
--     DEVICE_REMOVED and its prekeys are gone. NULL = in the account's current list (or, for an
--     account without a list, device 1).
CREATE TABLE devices (
  account_id      bigint      NOT NULL REFERENCES accounts (id),
  device_id       bigint      NOT NULL CHECK (device_id BETWEEN 1 AND 4294967295),
  identity        bytea       NOT NULL CHECK (length(identity) = 128),
  credential_hash bytea       NULL CHECK (length(credential_hash) = 32),
  created_at      timestamptz NOT NULL,
  last_seen_at    timestamptz NULL,
  removed_at      timestamptz NULL,
  PRIMARY KEY (account_id, device_id)
);

-- Device 1 of every existing account. The same statement runs after a restore of a backup
-- made before this migration (relay/store/devices.ts, backfillFirstDevices).
INSERT INTO devices (account_id, device_id, identity, credential_hash, created_at, last_seen_at)
SELECT a.id, 1, a.identity, a.credential_hash, a.created_at, a.last_seen_at
  FROM accounts a
 WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.account_id = a.id AND d.device_id = 1);

-- Prekeys belong to a device (§17.1: signed by the device's Ed25519 key). Existing rows are
-- device 1's. The foreign key is checked at commit, so a restore can load the prekeys of a
-- backup made before this migration and create the device rows afterwards, in one transaction.
ALTER TABLE signed_prekeys ADD COLUMN device_id bigint NOT NULL DEFAULT 1 CHECK (device_id BETWEEN 1 AND 4294967295);
ALTER TABLE signed_prekeys DROP CONSTRAINT signed_prekeys_pkey;
ALTER TABLE signed_prekeys ADD PRIMARY KEY (account_id, device_id, key_id);
ALTER TABLE signed_prekeys ADD CONSTRAINT signed_prekeys_device_fkey
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) DEFERRABLE INITIALLY DEFERRED;
DROP INDEX signed_prekeys_current_idx;
CREATE INDEX signed_prekeys_current_idx ON signed_prekeys (account_id, device_id, upload_seq DESC);

ALTER TABLE one_time_prekeys ADD COLUMN device_id bigint NOT NULL DEFAULT 1 CHECK (device_id BETWEEN 1 AND 4294967295);
ALTER TABLE one_time_prekeys DROP CONSTRAINT one_time_prekeys_pkey;
ALTER TABLE one_time_prekeys ADD PRIMARY KEY (account_id, device_id, key_id);
ALTER TABLE one_time_prekeys ADD CONSTRAINT one_time_prekeys_device_fkey
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) DEFERRABLE INITIALLY DEFERRED;
