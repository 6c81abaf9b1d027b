-- SocketMessenger relay schema, version 5: smsg_insert_messages is the one rule for
-- accepting sends (docs/ARCHITECTURE.md §4.2).
--
-- Until now the rule existed twice: in this function for batches of up to 16 sends, and as
-- statements in a transaction in relay/store for larger ones, each with its own in-batch
-- de-duplication. The relay now calls this function for every batch (bench/RESULTS.md,
-- "Accepting sends": one round trip, and per send within the noise of the better old path at
-- every batch size), so it is written here once, in-batch repeats included. Same arguments and result as in 0002, so a relay of the
-- previous version sharing this database keeps working: it passes only first occurrences,
-- which this version treats exactly as before.
--
-- Input: the batch in order (p_chat … p_envelope, one element per send) and its distinct
-- chat ids sorted ascending (p_lock). Output: one row per send (r_ord, 1-based), in order:
--   r_outcome 'new' (stored now) or 'duplicate' (stored earlier, or earlier in this batch:
--   its original id and created_at), or a refusal: 'chat_unknown', 'not_member',
--   'chat_closed', 'recipient_not_member', 'idem_conflict' (r_id and r_created_at NULL).
--
-- The rule, for the first send of each (sender, idem) in the batch:
--   1. if that (sender, idem) is already stored: 'duplicate' when for the same chat and the
--      same recipient (the same directed member, or both for the whole chat; even if the chat
--      was closed or the sender removed since), else 'idem_conflict' (SECURITY.md §14.7: one
--      envelope addressed to two recipients is two sends, never a retry of one);
--   2. else 'chat_unknown' (no such chat), 'not_member' (the sender is not a member; a
--      non-member learns only that the chat is unknown to it, never whether it is closed:
--      the relay answers CHAT_UNKNOWN for both), 'chat_closed', 'recipient_not_member'
--      (a directed envelope for someone not in the chat);
--   3. else stored, 'new'.
-- A later send of the batch with the same (sender, idem) gets the first one's answer
-- ('duplicate' instead of 'new'), or 'idem_conflict' when it names another chat or recipient.
--
-- Step 1 is looked up only for sends that step 3 could not store (ON CONFLICT skipped them)
-- or that step 2 refused, after the INSERT: all new and allowed, the common case, costs no
-- look-up. A send skipped by ON CONFLICT was committed first by a concurrent transaction
-- (sending to another chat, so not serialised by our chat locks); the function is VOLATILE,
-- so in READ COMMITTED that look-up, a new statement, sees it. (Such a send used up a message
-- id: ids have gaps.) A database error (e.g. an idem that is not 16 bytes) aborts the whole
-- statement: nothing of the batch is stored.
CREATE OR REPLACE FUNCTION smsg_insert_messages(
  p_lock      bigint[],
  p_chat      bigint[],
  p_sender    bigint[],
  p_recipient bigint[],
  p_idem      bytea[],
  p_envelope  bytea[],
  p_now       timestamptz
) RETURNS TABLE (r_ord integer, r_outcome text, r_id bigint, r_created_at timestamptz)
LANGUAGE plpgsql VOLATILE
-- Plan the statements inside once per connection, not on every call: the arrays' sizes do
-- not change the right plan (index lookups per send), and re-planning cost more than running.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict error
DECLARE
  -- The first send of each (sender, idem), in batch order, and its outcome.
  v_ord     integer[];
  v_outcome text[];
  v_id      bigint[];
  v_created timestamptz[];
BEGIN
  -- Per-chat locks in ascending id order (the caller sorts): unnest() yields the array in
  -- order and the projection runs row by row, so two batches cannot deadlock on chats.
  PERFORM pg_advisory_xact_lock(l.chat_id) FROM unnest(p_lock) AS l(chat_id);

  -- Steps 2 and 3: decide the first sends on chat state and membership, insert the allowed
  -- ones in batch order (so ids increase in that order).
  WITH u AS (
    SELECT x.chat_id, x.sender_id, x.recipient_id, x.idem, x.envelope, x.ord::integer AS ord
      FROM unnest(p_chat, p_sender, p_recipient, p_idem, p_envelope)
           WITH ORDINALITY AS x(chat_id, sender_id, recipient_id, idem, envelope, ord)
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
             ELSE 'insert'
           END AS outcome
      FROM firsts f
      LEFT JOIN chats c ON c.id = f.chat_id
      LEFT JOIN chat_members sm ON sm.chat_id = f.chat_id AND sm.account_id = f.sender_id
      LEFT JOIN chat_members rm ON rm.chat_id = f.chat_id AND rm.account_id = f.recipient_id
  ),
  ins AS (
    INSERT INTO messages (chat_id, sender_id, recipient_id, idem, envelope, created_at)
    SELECT d.chat_id, d.sender_id, d.recipient_id, d.idem, d.envelope, p_now
      FROM decided d
     WHERE d.outcome = 'insert'
     ORDER BY d.ord
    ON CONFLICT (sender_id, idem) DO NOTHING
    RETURNING messages.id, messages.sender_id, messages.idem, messages.created_at
  )
  SELECT array_agg(d.ord ORDER BY d.ord),
         array_agg(CASE WHEN n.id IS NOT NULL THEN 'new' ELSE d.outcome END ORDER BY d.ord),
         array_agg(n.id ORDER BY d.ord),
         array_agg(n.created_at ORDER BY d.ord)
    INTO v_ord, v_outcome, v_id, v_created
    FROM decided d
    LEFT JOIN ins n ON n.sender_id = d.sender_id AND n.idem = d.idem;

  -- Step 1, only for the first sends not stored now: a stored send with the same
  -- (sender, idem) is the answer, over any refusal.
  IF EXISTS (SELECT 1 FROM unnest(v_outcome) AS o(outcome) WHERE o.outcome <> 'new') THEN
    SELECT array_agg(CASE
                       WHEN o.outcome = 'new' THEN 'new'
                       WHEN m.id IS NULL AND o.outcome = 'insert' THEN NULL
                       WHEN m.id IS NULL THEN o.outcome
                       WHEN m.chat_id = p_chat[o.ord]
                            AND m.recipient_id IS NOT DISTINCT FROM p_recipient[o.ord] THEN 'duplicate'
                       ELSE 'idem_conflict'
                     END ORDER BY o.ord),
           array_agg(CASE
                       WHEN o.outcome = 'new' THEN o.id
                       WHEN m.chat_id = p_chat[o.ord] AND m.recipient_id IS NOT DISTINCT FROM p_recipient[o.ord] THEN m.id
                     END ORDER BY o.ord),
           array_agg(CASE
                       WHEN o.outcome = 'new' THEN o.created_at
                       WHEN m.chat_id = p_chat[o.ord] AND m.recipient_id IS NOT DISTINCT FROM p_recipient[o.ord]
                         THEN m.created_at
                     END ORDER BY o.ord)
      INTO v_outcome, v_id, v_created
      FROM unnest(v_ord, v_outcome, v_id, v_created) AS o(ord, outcome, id, created_at)
      LEFT JOIN messages m ON o.outcome <> 'new' AND m.sender_id = p_sender[o.ord] AND m.idem = p_idem[o.ord];
    IF array_position(v_outcome, NULL) IS NOT NULL THEN
      RAISE EXCEPTION 'a send conflicted on its idempotency id but no earlier send was found';
    END IF;
  END IF;

  -- Every send of the batch: a first one its own outcome, a repeat the first one's.
  RETURN QUERY
    SELECT b.ord::integer,
           CASE
             WHEN b.ord = f.ord THEN f.outcome
             WHEN b.chat_id <> p_chat[f.ord] OR b.recipient_id IS DISTINCT FROM p_recipient[f.ord] THEN 'idem_conflict'
             WHEN f.outcome IN ('new', 'duplicate') THEN 'duplicate'
             ELSE f.outcome
           END,
           CASE
             WHEN b.ord = f.ord OR (b.chat_id = p_chat[f.ord] AND b.recipient_id IS NOT DISTINCT FROM p_recipient[f.ord])
               THEN f.id
           END,
           CASE
             WHEN b.ord = f.ord OR (b.chat_id = p_chat[f.ord] AND b.recipient_id IS NOT DISTINCT FROM p_recipient[f.ord])
               THEN f.created_at
           END
      FROM unnest(p_chat, p_sender, p_recipient, p_idem) WITH ORDINALITY AS b(chat_id, sender_id, recipient_id, idem, ord)
      JOIN unnest(v_ord, v_outcome, v_id, v_created) AS f(ord, outcome, id, created_at)
        ON p_sender[f.ord] = b.sender_id AND p_idem[f.ord] = b.idem
     ORDER BY b.ord;
END
$$;
