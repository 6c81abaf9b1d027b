/**
 * Sender keys of group chats (SECURITY.md §7) as opaque state blobs, ours and the members'.
 * Row key of the sealed `state` column: [chat_id, sender, key_id].
 */
import { UsageError } from "../../src/errors.js";
import { type StoreContext, bit } from "./context.js";
import { blob } from "./sqlite.js";
import type { SenderKeyInput, SenderKeyRecord } from "./types.js";

interface Row {
  chat_id: number;
  sender: string;
  key_id: number;
  state: Uint8Array;
  own: number;
  created_at: number;
}

/** Sender keys (store.senderKeys). */
export class SenderKeysTable {
  constructor(private readonly ctx: StoreContext) {}

  private record(r: Row): SenderKeyRecord {
    return {
      chatId: r.chat_id,
      sender: r.sender,
      keyId: r.key_id,
      state: this.ctx.sealer.open("sender_keys", "state", [r.chat_id, r.sender, r.key_id], blob(r.state)),
      own: r.own === 1,
      createdAt: r.created_at,
    };
  }

  /**
   * Stores a sender key's state (insert, or update keeping its creation time), sealed. The chat
   * must exist (foreign key).
   */
  put(k: SenderKeyInput): void {
    if (!Number.isSafeInteger(k.keyId) || k.keyId < 0)
      throw new UsageError("a sender key id is a non-negative integer");
    const sealed = this.ctx.sealer.seal("sender_keys", "state", [k.chatId, k.sender, k.keyId], k.state);
    this.ctx
      .stmt(
        `INSERT INTO sender_keys (chat_id, sender, key_id, state, own, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (chat_id, sender, key_id) DO UPDATE SET state = excluded.state, own = excluded.own`,
      )
      .run(k.chatId, k.sender, k.keyId, sealed, bit(k.own), this.ctx.now());
  }

  /** One sender key, or undefined. */
  get(chatId: number, sender: string, keyId: number): SenderKeyRecord | undefined {
    const r = this.ctx
      .stmt("SELECT * FROM sender_keys WHERE chat_id = ? AND sender = ? AND key_id = ?")
      .get(chatId, sender, keyId) as Row | undefined;
    return r && this.record(r);
  }

  /** The newest sender key of `sender` in a chat (the last stored), or undefined. */
  latest(chatId: number, sender: string): SenderKeyRecord | undefined {
    const r = this.ctx
      .stmt("SELECT * FROM sender_keys WHERE chat_id = ? AND sender = ? ORDER BY created_at DESC, rowid DESC LIMIT 1")
      .get(chatId, sender) as Row | undefined;
    return r && this.record(r);
  }

  /** Our newest sender key in a chat (the one we send with), or undefined. */
  own(chatId: number): SenderKeyRecord | undefined {
    const r = this.ctx
      .stmt("SELECT * FROM sender_keys WHERE chat_id = ? AND own = 1 ORDER BY created_at DESC, rowid DESC LIMIT 1")
      .get(chatId) as Row | undefined;
    return r && this.record(r);
  }

  /** Every sender key of a chat (of one sender when given), oldest first. */
  list(chatId: number, sender?: string): SenderKeyRecord[] {
    const rows = (
      sender === undefined
        ? this.ctx.stmt("SELECT * FROM sender_keys WHERE chat_id = ? ORDER BY created_at, rowid").all(chatId)
        : this.ctx
            .stmt("SELECT * FROM sender_keys WHERE chat_id = ? AND sender = ? ORDER BY created_at, rowid")
            .all(chatId, sender)
    ) as Row[];
    return rows.map((r) => this.record(r));
  }

  /** Deletes one sender key, or all of `sender`'s in the chat when `keyId` is undefined. Returns how many. */
  delete(chatId: number, sender: string, keyId?: number): number {
    return keyId === undefined
      ? this.ctx.stmt("DELETE FROM sender_keys WHERE chat_id = ? AND sender = ?").run(chatId, sender).changes
      : this.ctx
          .stmt("DELETE FROM sender_keys WHERE chat_id = ? AND sender = ? AND key_id = ?")
          .run(chatId, sender, keyId).changes;
  }
}
