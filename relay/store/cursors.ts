/**
 * Each device's delivery cursor per chat: the highest message id it acked in the chat
 * (docs/ARCHITECTURE.md §3.7, ack after commit; §4.2 "Devices and mailboxes"). Device 1's is
 * `chat_members.cursor`, as every account's cursor was before devices (SECURITY.md §17.8), so
 * it carried over unchanged; a device 2 and up has a row of `device_cursors`.
 */
import { CHAT_MAX_ID } from "./chat-locks.js";
import type { Int8, Queryable } from "./db.js";
import { num } from "./sql-values.js";

/**
 * Records that device `device` (default 1) of `accountId` has everything in `chatId` up to
 * message `upTo`. The cursor never moves backwards, nor beyond the chat's newest message (a
 * client cannot skip messages that do not exist yet). Returns the cursor now stored, or
 * undefined when the account is not a member of the chat, or (devices 2 and up) the device
 * has no mailbox (it is not one of the account's current devices).
 */
export async function ack(
  q: Queryable,
  accountId: number,
  chatId: number,
  upTo: number,
  device = 1,
): Promise<number | undefined> {
  if (device === 1) {
    const rows = await q.query<{ cursor: Int8 }>(
      `UPDATE chat_members SET cursor = GREATEST(cursor, LEAST($3::bigint, ${CHAT_MAX_ID}))
        WHERE chat_id = $1 AND account_id = $2
        RETURNING cursor`,
      [chatId, accountId, upTo],
    );
    return rows[0] === undefined ? undefined : num(rows[0].cursor);
  }
  const rows = await q.query<{ cursor: Int8 }>(
    `INSERT INTO device_cursors (chat_id, account_id, device_id, cursor)
     SELECT cm.chat_id, cm.account_id, $4, LEAST($3::bigint, ${CHAT_MAX_ID})
       FROM chat_members cm
      WHERE cm.chat_id = $1 AND cm.account_id = $2
        AND EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = $2 AND b.device_id = $4)
     ON CONFLICT (chat_id, account_id, device_id) DO UPDATE SET cursor = GREATEST(device_cursors.cursor, EXCLUDED.cursor)
     RETURNING cursor`,
    [chatId, accountId, upTo, device],
  );
  return rows[0] === undefined ? undefined : num(rows[0].cursor);
}
