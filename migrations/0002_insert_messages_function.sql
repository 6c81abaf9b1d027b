-- SocketMessenger relay schema, version 2: the batch insert of sends as one function.
--
-- RelayStore.insertMessages (relay/store/store.ts) used to run BEGIN, four statements and
-- COMMIT per group-commit batch: six round trips. It now calls this function once, in
-- autocommit: a single statement is its own transaction, so the advisory locks taken here
-- are held until it commits, exactly as before. Same semantics, documented at
-- insertMessages. Runs on PostgreSQL (15 and later) and on PGlite, which both ship PL/pgSQL.
--
-- Input: the FIRST occurrence of each (sender, idem) of the batch, in batch order (the
-- caller maps repeats within the batch onto them), and every chat id of the batch, distinct
-- and sorted ascending, to lock. Output: one row per input position (r_ord, 1-based):
--   r_outcome 'new' (stored now) or 'duplicate' (stored earlier: its original id and
--   created_at), or a refusal: 'chat_unknown', 'not_member', 'chat_closed',
--   'recipient_not_member', 'idem_conflict' (r_id and r_created_at NULL).
-- A database error (e.g. an idem that is not 16 bytes) aborts the whole statement: nothing
-- of the batch is stored.
--
-- The function is VOLATILE, so in READ COMMITTED each statement in it takes a new snapshot:
-- the lookups after the locks see every send committed before the locks were granted, and
-- the look-up of a raced send sees the transaction that won the race.
CREATE FUNCTION smsg_insert_messages(
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
  v_ord     integer[];
  v_outcome text[];
  v_id      bigint[];
  v_created timestamptz[];
  v_winner  record;
  i         integer;
BEGIN
  -- Per-chat locks in ascending id order (the caller sorts): unnest() yields the array in
  -- order and the projection runs row by row, so two batches cannot deadlock on chats.
  PERFORM pg_advisory_xact_lock(l.chat_id) FROM unnest(p_lock) AS l(chat_id);

  -- Decide every send, insert the new ones in batch order (so ids increase in that order),
  -- and collect the outcomes. A send decided 'insert' that ON CONFLICT skipped is 'raced'.
  WITH u AS (
    SELECT x.chat_id, x.sender_id, x.recipient_id, x.idem, x.envelope, x.ord::integer AS ord
      FROM unnest(p_chat, p_sender, p_recipient, p_idem, p_envelope)
           WITH ORDINALITY AS x(chat_id, sender_id, recipient_id, idem, envelope, ord)
  ),
  decided AS (
    SELECT u.*, e.id AS e_id, e.created_at AS e_created,
           CASE
             WHEN e.id IS NOT NULL THEN CASE WHEN e.chat_id = u.chat_id THEN 'duplicate' ELSE 'idem_conflict' END
             -- A non-member learns only that the chat is unknown to it, not whether it is closed.
             WHEN c.id IS NULL THEN 'chat_unknown'
             WHEN sm.account_id IS NULL THEN 'not_member'
             WHEN c.closed THEN 'chat_closed'
             WHEN u.recipient_id IS NOT NULL AND rm.account_id IS NULL THEN 'recipient_not_member'
             ELSE 'insert'
           END AS outcome
      FROM u
      LEFT JOIN messages e ON e.sender_id = u.sender_id AND e.idem = u.idem
      LEFT JOIN chats c ON c.id = u.chat_id
      LEFT JOIN chat_members sm ON sm.chat_id = u.chat_id AND sm.account_id = u.sender_id
      LEFT JOIN chat_members rm ON rm.chat_id = u.chat_id AND rm.account_id = u.recipient_id
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
         array_agg(CASE WHEN d.outcome <> 'insert' THEN d.outcome WHEN n.id IS NULL THEN 'raced' ELSE 'new' END ORDER BY d.ord),
         array_agg(COALESCE(n.id, CASE WHEN d.outcome = 'duplicate' THEN d.e_id END) ORDER BY d.ord),
         array_agg(COALESCE(n.created_at, CASE WHEN d.outcome = 'duplicate' THEN d.e_created END) ORDER BY d.ord)
    INTO v_ord, v_outcome, v_id, v_created
    FROM decided d
    LEFT JOIN ins n ON n.sender_id = d.sender_id AND n.idem = d.idem;

  -- Not inserted: a concurrent transaction (sending to another chat, so not serialised by our
  -- chat locks) committed the same (sender, idem) first. It is visible to this new statement.
  FOR i IN 1 .. (CASE WHEN 'raced' = ANY (v_outcome) THEN array_length(v_ord, 1) ELSE 0 END) LOOP
    IF v_outcome[i] = 'raced' THEN
      SELECT m.id, m.chat_id, m.created_at INTO v_winner
        FROM messages m WHERE m.sender_id = p_sender[v_ord[i]] AND m.idem = p_idem[v_ord[i]];
      IF NOT FOUND THEN
        RAISE EXCEPTION 'a send conflicted on its idempotency id but no earlier send was found';
      END IF;
      IF v_winner.chat_id = p_chat[v_ord[i]] THEN
        v_outcome[i] := 'duplicate';
        v_id[i] := v_winner.id;
        v_created[i] := v_winner.created_at;
      ELSE
        v_outcome[i] := 'idem_conflict';
      END IF;
    END IF;
  END LOOP;

  RETURN QUERY SELECT o.ord, o.outcome, o.id, o.created_at
                 FROM unnest(v_ord, v_outcome, v_id, v_created) AS o(ord, outcome, id, created_at);
END
$$;
