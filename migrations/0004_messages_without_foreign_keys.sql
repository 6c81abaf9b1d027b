-- SocketMessenger relay schema, version 4: `messages` without its three foreign keys.
--
-- Every row of `messages` is written by smsg_insert_messages, which stores a send only when,
-- under the chat's advisory lock and in the same statement, the chat exists, the sender is a
-- member and a directed envelope's recipient is a member: exactly what the foreign keys on
-- chat_id, sender_id and recipient_id checked again, row by row, with a FOR KEY SHARE lock on
-- the parent rows (the same few account and chat rows under every send, so concurrent batches
-- also shared multixact locks on them). bench/RESULTS.md ("Accepting sends") has the cost.
--
-- What the keys also guaranteed is kept by the store explicitly (docs/ARCHITECTURE.md §4.2):
-- accounts are never deleted (an operator's delete keeps the row), no statement deletes a chat,
-- and a restored backup is checked for messages whose chat or account is missing
-- (relay/store/integrity.ts).
ALTER TABLE messages DROP CONSTRAINT messages_chat_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_sender_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_recipient_id_fkey;
