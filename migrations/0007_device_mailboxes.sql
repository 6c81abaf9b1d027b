-- SocketMessenger relay schema, version 7: per-device delivery (SECURITY.md §17.5, §17.7,
-- §17.8; docs/ARCHITECTURE.md §4.2 "Devices and mailboxes").
--
-- A message is still one row of `messages` with one id, the idempotency record of its send.
-- What changes is who receives it: devices, not accounts.
--   * `send` (one envelope): as before, plus the sending device. An undirected one goes to
--     every current device of every member except the sending device; a directed one (`to`)
--     to device 1 of that member only.
--   * `send_copies`: its row has no envelope (envelope IS NULL); each recipient device's
--     envelope is a row of message_copies under the same message id.
-- Device 1's cursor stays chat_members.cursor, so every cursor of an account made before §17
-- carries over as its device 1's, unchanged, and the one-device path reads and writes what it
-- always did. Cursors of devices 2 and up are rows of device_cursors.
--
-- An account's current devices, as delivery sees them: the rows of device_mailboxes once its
-- first device list is stored (relay/store/mailboxes.ts keeps them equal to the list's ids, in
-- the transaction that stores the list), and [1] while it has none (no rows).
-- None of these tables has foreign keys: like `messages` since 0004, every row is written by
-- the store under the locks that decide it, and the store deletes what belongs to a removed
-- device, a message or a membership itself.

-- The sending device of every message (1 for every message stored before §17), and an
-- envelope only for `send`: NULL marks a message whose envelopes are per-device copies.
ALTER TABLE messages ADD COLUMN sender_device integer NOT NULL DEFAULT 1 CHECK (sender_device >= 1);
ALTER TABLE messages ALTER COLUMN envelope DROP NOT NULL;

-- The current devices of accounts that have a device list. since_message: the newest message
-- id when the mailbox was opened (the device was first listed; 0 for device 1): undirected
-- messages at or below it were sent before the device existed and are not for it (§17.6
-- "What a new device sees"). Copies are addressed explicitly and need no such floor.
CREATE TABLE device_mailboxes (
  account_id    bigint  NOT NULL,
  device_id     integer NOT NULL CHECK (device_id >= 1),
  since_message bigint  NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, device_id)
);

-- One device's envelope of a send_copies. The key serves a device's sync (per chat, after its
-- cursor) and the deletion of a member's copies when it leaves a chat; message_id's index the
-- fan-out of a message by id and the deletion of a message's copies.
CREATE TABLE message_copies (
  account_id bigint  NOT NULL,
  chat_id    bigint  NOT NULL,
  device_id  integer NOT NULL CHECK (device_id >= 1),
  message_id bigint  NOT NULL,
  envelope   bytea   NOT NULL,
  PRIMARY KEY (account_id, chat_id, device_id, message_id)
);
CREATE INDEX message_copies_message_idx ON message_copies (message_id);

-- The delivery cursors of devices 2 and up: the highest message id the device acked in the
-- chat (never decreases). A missing row is cursor 0.
CREATE TABLE device_cursors (
  chat_id    bigint  NOT NULL,
  account_id bigint  NOT NULL,
  device_id  integer NOT NULL CHECK (device_id >= 2),
  cursor     bigint  NOT NULL DEFAULT 0,
  PRIMARY KEY (chat_id, account_id, device_id)
);
CREATE INDEX device_cursors_device_idx ON device_cursors (account_id, device_id);

-- The one rule for accepting sends, now for both kinds (it was smsg_insert_messages, 0005).
--
-- Input: the batch in order, one element per send: chat, sender, sender device, recipient
-- (a directed `send`), idem, envelope (NULL for a send_copies), and the copies of every
-- send_copies flattened: p_copy_ord (the 1-based position of its send in the batch),
-- p_copy_account, p_copy_device, p_copy_envelope. p_lock: the batch's distinct chat ids,
-- ascending. Output: one row per send (r_ord), in order: r_outcome 'new' or 'duplicate' (its
-- original id and created_at), or a refusal: 'chat_unknown', 'not_member', 'chat_closed',
-- 'recipient_not_member', 'devices_listed', 'device_list_stale', 'idem_conflict'.
--
-- The rule, for the first send of each (sender, idem) in the batch:
--   1. if that (sender, idem) is already stored: 'duplicate' when it was the same kind of send
--      from the same device for the same chat and the same recipient (even if the chat was
--      closed, the sender removed or the device lists changed since), else 'idem_conflict';
--   2. else, in this order: 'chat_unknown', 'not_member' (the sender answers CHAT_UNKNOWN for
--      both), 'chat_closed', 'recipient_not_member'; then
--      'devices_listed': a `send` in a direct chat where a member has a device list (§17.8:
--      only two accounts without lists use it there);
--      'device_list_stale' (§17.8 send_copies): a copy names an account that is not a member,
--      a device that is not one of its current devices, the sending device itself, or a device
--      a second time; or, in a direct chat, a current device of either member other than the
--      sending one has no copy; or the sending device is no longer current (removed while
--      the send was on its way);
--   3. else stored, 'new' (for a send_copies: its message row and every copy).
-- A later send of the batch with the same (sender, idem) gets the first one's answer, or
-- 'idem_conflict' when it names another chat, recipient, device or kind.
--
-- Locks: the chats first (ascending, as before: ids commit in id order within a chat), then,
-- shared, the device mailboxes of every account a copy names (ascending; key −account id,
-- below every chat id). relay/store/mailboxes.ts takes that key exclusively before it deletes a
-- removed device's copies, so a send_copies that checked a device is either committed before
-- the removal deletes (and its copy is deleted with the others) or sees the removal.
CREATE FUNCTION smsg_insert_sends(
  p_lock           bigint[],
  p_chat           bigint[],
  p_sender         bigint[],
  p_sender_device  integer[],
  p_recipient      bigint[],
  p_idem           bytea[],
  p_envelope       bytea[],
  p_copy_ord       integer[],
  p_copy_account   bigint[],
  p_copy_device    integer[],
  p_copy_envelope  bytea[],
  p_now            timestamptz
) RETURNS TABLE (r_ord integer, r_outcome text, r_id bigint, r_created_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict error
DECLARE
  v_ord     integer[];
  v_outcome text[];
  v_id      bigint[];
  v_created timestamptz[];
  -- Positions of the send_copies whose copies break §17.8's rules (step 2).
  v_stale   integer[] := '{}';
BEGIN
  PERFORM pg_advisory_xact_lock(l.chat_id) FROM unnest(p_lock) AS l(chat_id);

  IF cardinality(p_copy_ord) > 0 THEN
    PERFORM pg_advisory_xact_lock_shared(-a.account_id)
       FROM (SELECT DISTINCT x.account_id FROM unnest(p_copy_account) AS x(account_id) ORDER BY 1) AS a;

    -- Each copy is good when it names a current device of a member that is not the sending
    -- device; a send_copies is stale when a copy is not good, a device is named twice, or (in
    -- a direct chat) it has fewer copies than the members have current devices besides the
    -- sending one. With every copy good and distinct, equal counts mean every device has one.
    WITH cp AS (
      SELECT x.ord, x.account_id, x.device_id
        FROM unnest(p_copy_ord, p_copy_account, p_copy_device) AS x(ord, account_id, device_id)
    ),
    judged AS (
      SELECT cp.ord, cp.account_id, cp.device_id,
             (cm.account_id IS NOT NULL
              AND NOT (cp.account_id = p_sender[cp.ord] AND cp.device_id = p_sender_device[cp.ord])
              AND (EXISTS (SELECT 1 FROM device_mailboxes b
                            WHERE b.account_id = cp.account_id AND b.device_id = cp.device_id)
                   OR (cp.device_id = 1
                       AND NOT EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = cp.account_id))))
               AS good
        FROM cp
        LEFT JOIN chat_members cm ON cm.chat_id = p_chat[cp.ord] AND cm.account_id = cp.account_id
    ),
    per_send AS (
      SELECT j.ord, bool_and(j.good) AS all_good, count(*) AS copies,
             count(DISTINCT (j.account_id, j.device_id)) AS distinct_copies
        FROM judged j GROUP BY j.ord
    )
    SELECT COALESCE(array_agg(s.ord), '{}') INTO v_stale
      FROM per_send s
      JOIN chats c ON c.id = p_chat[s.ord]
     WHERE NOT s.all_good
        OR s.copies <> s.distinct_copies
        -- The sending device itself is no longer current: its removal raced this send.
        OR NOT (EXISTS (SELECT 1 FROM device_mailboxes b
                         WHERE b.account_id = p_sender[s.ord] AND b.device_id = p_sender_device[s.ord])
                OR (p_sender_device[s.ord] = 1
                    AND NOT EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = p_sender[s.ord])))
        OR (c.kind = 'direct' AND s.copies <> (
              SELECT count(*) FROM chat_members m
               CROSS JOIN LATERAL (
                 SELECT b.device_id FROM device_mailboxes b WHERE b.account_id = m.account_id
                 UNION ALL
                 SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = m.account_id)
               ) AS d(device_id)
               WHERE m.chat_id = c.id
                 AND NOT (m.account_id = p_sender[s.ord] AND d.device_id = p_sender_device[s.ord])));
  END IF;

  WITH u AS (
    SELECT x.chat_id, x.sender_id, x.sender_device, x.recipient_id, x.idem, x.envelope, x.ord::integer AS ord
      FROM unnest(p_chat, p_sender, p_sender_device, p_recipient, p_idem, p_envelope)
           WITH ORDINALITY AS x(chat_id, sender_id, sender_device, recipient_id, idem, envelope, ord)
  ),
  firsts AS (
    SELECT DISTINCT ON (u.sender_id, u.idem) u.* FROM u ORDER BY u.sender_id, u.idem, u.ord
  ),
  decided AS (
    SELECT f.*,
           CASE
             WHEN c.id IS NULL THEN 'chat_unknown'
             WHEN sm.account_id IS NULL THEN 'not_member'
             WHEN c.closed THEN 'chat_closed'
             WHEN f.recipient_id IS NOT NULL AND rm.account_id IS NULL THEN 'recipient_not_member'
             WHEN f.envelope IS NOT NULL AND c.kind = 'direct'
                  AND EXISTS (SELECT 1 FROM chat_members m JOIN device_mailboxes b ON b.account_id = m.account_id
                               WHERE m.chat_id = f.chat_id) THEN 'devices_listed'
             WHEN f.ord = ANY (v_stale) THEN 'device_list_stale'
             ELSE 'insert'
           END AS outcome
      FROM firsts f
      LEFT JOIN chats c ON c.id = f.chat_id
      LEFT JOIN chat_members sm ON sm.chat_id = f.chat_id AND sm.account_id = f.sender_id
      LEFT JOIN chat_members rm ON rm.chat_id = f.chat_id AND rm.account_id = f.recipient_id
  ),
  ins AS (
    INSERT INTO messages (chat_id, sender_id, sender_device, recipient_id, idem, envelope, created_at)
    SELECT d.chat_id, d.sender_id, d.sender_device, d.recipient_id, d.idem, d.envelope, p_now
      FROM decided d
     WHERE d.outcome = 'insert'
     ORDER BY d.ord
    ON CONFLICT (sender_id, idem) DO NOTHING
    RETURNING messages.id, messages.sender_id, messages.idem, messages.created_at
  ),
  stored AS (
    SELECT d.ord, n.id, n.created_at
      FROM decided d JOIN ins n ON n.sender_id = d.sender_id AND n.idem = d.idem
  ),
  -- Runs to completion although nothing reads it (PostgreSQL runs every data-modifying WITH).
  copies AS (
    INSERT INTO message_copies (account_id, chat_id, device_id, message_id, envelope)
    SELECT x.account_id, p_chat[x.ord], x.device_id, s.id, x.envelope
      FROM unnest(p_copy_ord, p_copy_account, p_copy_device, p_copy_envelope) AS x(ord, account_id, device_id, envelope)
      JOIN stored s ON s.ord = x.ord
  )
  SELECT array_agg(d.ord ORDER BY d.ord),
         array_agg(CASE WHEN s.id IS NOT NULL THEN 'new' ELSE d.outcome END ORDER BY d.ord),
         array_agg(s.id ORDER BY d.ord),
         array_agg(s.created_at ORDER BY d.ord)
    INTO v_ord, v_outcome, v_id, v_created
    FROM decided d
    LEFT JOIN stored s ON s.ord = d.ord;

  -- Step 1, only for the first sends not stored now.
  IF EXISTS (SELECT 1 FROM unnest(v_outcome) AS o(outcome) WHERE o.outcome <> 'new') THEN
    SELECT array_agg(CASE
                       WHEN o.outcome = 'new' THEN 'new'
                       WHEN m.id IS NULL AND o.outcome = 'insert' THEN NULL
                       WHEN m.id IS NULL THEN o.outcome
                       WHEN m.chat_id = p_chat[o.ord]
                            AND m.recipient_id IS NOT DISTINCT FROM p_recipient[o.ord]
                            AND m.sender_device = p_sender_device[o.ord]
                            AND (m.envelope IS NULL) = (p_envelope[o.ord] IS NULL) THEN 'duplicate'
                       ELSE 'idem_conflict'
                     END ORDER BY o.ord),
           array_agg(CASE
                       WHEN o.outcome = 'new' THEN o.id
                       WHEN m.chat_id = p_chat[o.ord] AND m.recipient_id IS NOT DISTINCT FROM p_recipient[o.ord]
                            AND m.sender_device = p_sender_device[o.ord]
                            AND (m.envelope IS NULL) = (p_envelope[o.ord] IS NULL) THEN m.id
                     END ORDER BY o.ord),
           array_agg(CASE
                       WHEN o.outcome = 'new' THEN o.created_at
                       WHEN m.chat_id = p_chat[o.ord] AND m.recipient_id IS NOT DISTINCT FROM p_recipient[o.ord]
                            AND m.sender_device = p_sender_device[o.ord]
                            AND (m.envelope IS NULL) = (p_envelope[o.ord] IS NULL) THEN m.created_at
                     END ORDER BY o.ord)
      INTO v_outcome, v_id, v_created
      FROM unnest(v_ord, v_outcome, v_id, v_created) AS o(ord, outcome, id, created_at)
      LEFT JOIN messages m ON o.outcome <> 'new' AND m.sender_id = p_sender[o.ord] AND m.idem = p_idem[o.ord];
    IF array_position(v_outcome, NULL) IS NOT NULL THEN
      RAISE EXCEPTION 'a send conflicted on its idempotency id but no earlier send was found';
    END IF;
  END IF;

  -- Every send of the batch: a first one its own outcome, a repeat the first one's (or a
  -- conflict when it differs from it in chat, recipient, device or kind).
  RETURN QUERY
    WITH b AS (
      SELECT x.chat_id, x.recipient_id, x.ord::integer AS ord, (x.chat_id = p_chat[f.ord] AND x.recipient_id IS NOT DISTINCT FROM p_recipient[f.ord]
                   AND x.sender_device = p_sender_device[f.ord]
                   AND (p_envelope[x.ord::integer] IS NULL) = (p_envelope[f.ord] IS NULL)) AS same,
             f.ord AS f_ord, f.outcome, f.id, f.created_at
        FROM unnest(p_chat, p_sender, p_sender_device, p_recipient, p_idem)
             WITH ORDINALITY AS x(chat_id, sender_id, sender_device, recipient_id, idem, ord)
        JOIN unnest(v_ord, v_outcome, v_id, v_created) AS f(ord, outcome, id, created_at)
          ON p_sender[f.ord] = x.sender_id AND p_idem[f.ord] = x.idem
    )
    SELECT b.ord::integer,
           CASE
             WHEN b.ord = b.f_ord THEN b.outcome
             WHEN NOT b.same THEN 'idem_conflict'
             WHEN b.outcome IN ('new', 'duplicate') THEN 'duplicate'
             ELSE b.outcome
           END,
           CASE WHEN b.ord = b.f_ord OR b.same THEN b.id END,
           CASE WHEN b.ord = b.f_ord OR b.same THEN b.created_at END
      FROM b
     ORDER BY b.ord;
END
$$;

-- The 0005 signature, for a relay of the previous version sharing this database: the same
-- rule, every send from device 1 and none with copies.
CREATE OR REPLACE FUNCTION smsg_insert_messages(
  p_lock      bigint[],
  p_chat      bigint[],
  p_sender    bigint[],
  p_recipient bigint[],
  p_idem      bytea[],
  p_envelope  bytea[],
  p_now       timestamptz
) RETURNS TABLE (r_ord integer, r_outcome text, r_id bigint, r_created_at timestamptz)
LANGUAGE sql VOLATILE
AS $$
  SELECT s.r_ord, s.r_outcome, s.r_id, s.r_created_at
    FROM smsg_insert_sends(p_lock, p_chat, p_sender, array_fill(1, ARRAY[cardinality(p_chat)]), p_recipient,
                           p_idem, p_envelope, '{}', '{}', '{}', '{}', p_now) AS s
$$;
