/**
 * The group records client/engine/group/ keeps beside sender keys, as opaque bytes:
 *
 * - `group_states`: per group chat, the accepted admin-signed state (its app message encoding)
 *   and the "holders" record (JSON text: who holds our current sender key, who has had our
 *   display name). Row key of the sealed `state` and `holders` columns: [chat_id]. `gone`
 *   (clear JSON, usernames as in chat_members): members seen gone from the relay's list and
 *   reported as having left.
 * - `pending_sender_keys`: a member's sender_key app message naming a state newer than the
 *   accepted one, the latest per sender, until a state covering it is accepted. Row key of the
 *   sealed `message` column: [chat_id, sender].
 *
 * Schema 1-3 kept these in `sender_keys` under reserved sender names; ClientStore.open moves
 * such rows here (client-store.ts moveReservedGroupRows).
 */
import { UsageError } from "../../src/errors.js";
import { type StoreContext } from "./context.js";
import { blob } from "./sqlite.js";
import type { PendingSenderKeyRecord } from "./types.js";

interface PendingRow {
  chat_id: number;
  sender: string;
  epoch: number;
  message: Uint8Array;
}

/** Accepted group states, holders and pending sender keys (store.groupStates). */
export class GroupStatesTable {
  constructor(private readonly ctx: StoreContext) {}

  /** The accepted state's encoding, or undefined when no state was accepted in the chat. */
  getState(chatId: number): Uint8Array | undefined {
    const r = this.ctx.stmt("SELECT state FROM group_states WHERE chat_id = ?").get(chatId) as
      { state: unknown } | undefined;
    return r && this.ctx.sealer.open("group_states", "state", [chatId], blob(r.state));
  }

  /** Stores the accepted state's encoding, sealed, keeping the holders record. The chat must exist (foreign key). */
  putState(chatId: number, state: Uint8Array): void {
    const sealed = this.ctx.sealer.seal("group_states", "state", [chatId], state);
    this.ctx
      .stmt(
        "INSERT INTO group_states (chat_id, state) VALUES (?, ?) ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state",
      )
      .run(chatId, sealed);
  }

  /** The holders record (JSON text), or undefined when none was stored. */
  getHolders(chatId: number): string | undefined {
    const r = this.ctx.stmt("SELECT holders FROM group_states WHERE chat_id = ?").get(chatId) as
      { holders: unknown } | undefined;
    return r && r.holders !== null
      ? this.ctx.sealer.openText("group_states", "holders", [chatId], blob(r.holders))
      : undefined;
  }

  /** Replaces the holders record (JSON text), sealed. Throws UsageError when the chat has no accepted state. */
  setHolders(chatId: number, json: string): void {
    const sealed = this.ctx.sealer.sealText("group_states", "holders", [chatId], json);
    if (this.ctx.stmt("UPDATE group_states SET holders = ? WHERE chat_id = ?").run(sealed, chatId).changes === 0) {
      throw new UsageError(`chat ${chatId} has no accepted group state`);
    }
  }

  /** The members of the accepted state reported as gone from the relay's list (JSON array of usernames), or []. */
  getGone(chatId: number): string[] {
    const r = this.ctx.stmt("SELECT gone FROM group_states WHERE chat_id = ?").get(chatId) as
      { gone: string | null } | undefined;
    return r?.gone ? (JSON.parse(r.gone) as string[]) : [];
  }

  /** Replaces the list getGone returns (no-op without an accepted state). */
  setGone(chatId: number, users: readonly string[]): void {
    this.ctx
      .stmt("UPDATE group_states SET gone = ? WHERE chat_id = ?")
      .run(users.length === 0 ? null : JSON.stringify([...users].sort()), chatId);
  }

  /** Stores `sender`'s pending sender_key message (encoded), sealed, replacing theirs in the chat. The chat must exist. */
  putPending(chatId: number, sender: string, epoch: number, message: Uint8Array): void {
    if (!Number.isSafeInteger(epoch) || epoch < 0)
      throw new UsageError("a group state epoch is a non-negative integer");
    const sealed = this.ctx.sealer.seal("pending_sender_keys", "message", [chatId, sender], message);
    this.ctx
      .stmt(
        `INSERT INTO pending_sender_keys (chat_id, sender, epoch, message) VALUES (?, ?, ?, ?)
         ON CONFLICT (chat_id, sender) DO UPDATE SET epoch = excluded.epoch, message = excluded.message`,
      )
      .run(chatId, sender, epoch, sealed);
  }

  /** The pending sender keys of a chat, by sender. */
  listPending(chatId: number): PendingSenderKeyRecord[] {
    const rows = this.ctx
      .stmt("SELECT * FROM pending_sender_keys WHERE chat_id = ? ORDER BY sender")
      .all(chatId) as PendingRow[];
    return rows.map((r) => ({
      chatId: r.chat_id,
      sender: r.sender,
      epoch: r.epoch,
      message: this.ctx.sealer.open("pending_sender_keys", "message", [r.chat_id, r.sender], blob(r.message)),
    }));
  }

  /** Deletes `sender`'s pending sender key, or every one of the chat when `sender` is undefined. Returns how many. */
  deletePending(chatId: number, sender?: string): number {
    return sender === undefined
      ? this.ctx.stmt("DELETE FROM pending_sender_keys WHERE chat_id = ?").run(chatId).changes
      : this.ctx.stmt("DELETE FROM pending_sender_keys WHERE chat_id = ? AND sender = ?").run(chatId, sender).changes;
  }
}
