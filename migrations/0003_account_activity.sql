-- SocketMessenger relay schema, version 3: what an operator sees of an account.
--
-- last_seen_at: when the account last logged in or last closed a connection (NULL: never
-- since this migration). deleted_at: set by `smsg relay delete`; the row stays, disabled,
-- with its credential hash zeroed and its keys, memberships and queued messages gone, so the
-- username can never be taken by someone else (contacts pinned its identity key).
ALTER TABLE accounts ADD COLUMN last_seen_at timestamptz NULL;
ALTER TABLE accounts ADD COLUMN deleted_at timestamptz NULL;
