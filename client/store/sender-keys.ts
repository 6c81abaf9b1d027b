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
  sender_device: number;
}

/** Sender keys (store.senderKeys). */
export class SenderKeysTable {
  constructor(private readonly ctx: StoreContext) {}

  private record(r: Row): SenderKeyRecord {
    return {
      chatId: r.chat_id,
      sender: r.sender,
      keyId: r.key_id,
      state: this.ctx.sealer.open(
        "sender_keys",
        "state",
        rowKey(r.chat_id, r.sender, r.key_id, r.sender_device),
        blob(r.state),
      ),
      own: r.own === 1,
      createdAt: r.created_at,
      senderDevice: r.sender_device,
    };
  }

  /**
   * Stores a sender key's state (insert, or update keeping its creation time), sealed. The chat
   * must exist (foreign key).
   */
  put(k: SenderKeyInput): void {
    if (!Number.isSafeInteger(k.keyId) || k.keyId < 0)
      throw new UsageError("a sender key id is a non-negative integer");
    const device = k.senderDevice ?? 1;
    const sealed = this.ctx.sealer.seal("sender_keys", "state", rowKey(k.chatId, k.sender, k.keyId, device), k.state);
    this.ctx
      .stmt(
        `INSERT INTO sender_keys (chat_id, sender, sender_device, key_id, state, own, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (chat_id, sender, sender_device, key_id) DO UPDATE SET state = excluded.state, own = excluded.own`,
      )
      .run(k.chatId, k.sender, device, k.keyId, sealed, bit(k.own), this.ctx.now());
  }

  /** One sender key of `sender`'s device `senderDevice`, or undefined. */
  get(chatId: number, sender: string, keyId: number, senderDevice = 1): SenderKeyRecord | undefined {
    const r = this.ctx
      .stmt("SELECT * FROM sender_keys WHERE chat_id = ? AND sender = ? AND sender_device = ? AND key_id = ?")
      .get(chatId, sender, senderDevice, keyId) as Row | undefined;
    return r && this.record(r);
  }

  /** The newest sender key of `sender`'s device `senderDevice` in a chat (the last stored), or undefined. */
  latest(chatId: number, sender: string, senderDevice = 1): SenderKeyRecord | undefined {
    const r = this.ctx
      .stmt(
        "SELECT * FROM sender_keys WHERE chat_id = ? AND sender = ? AND sender_device = ?" +
          " ORDER BY created_at DESC, rowid DESC LIMIT 1",
      )
      .get(chatId, sender, senderDevice) as Row | undefined;
    return r && this.record(r);
  }

  /** Our newest sender key in a chat (the one we send with), or undefined. */
  own(chatId: number): SenderKeyRecord | undefined {
    const r = this.ctx
      .stmt("SELECT * FROM sender_keys WHERE chat_id = ? AND own = 1 ORDER BY created_at DESC, rowid DESC LIMIT 1")
      .get(chatId) as Row | undefined;
    return r && this.record(r);
  }

  /** Every sender key of a chat (of one sender, all its devices, when given), oldest first. */
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

  /**
   * Deletes one sender key (of device `senderDevice`), or all of `sender`'s in the chat, every
   * device, when `keyId` is undefined. Returns how many.
   */
  delete(chatId: number, sender: string, keyId?: number, senderDevice = 1): number {
    return keyId === undefined
      ? this.ctx.stmt("DELETE FROM sender_keys WHERE chat_id = ? AND sender = ?").run(chatId, sender).changes
      : this.ctx
          .stmt("DELETE FROM sender_keys WHERE chat_id = ? AND sender = ? AND sender_device = ? AND key_id = ?")
          .run(chatId, sender, senderDevice, keyId).changes;
  }

  /** Deletes every sender key of one device of `sender` in every chat (a device removed from its account, §17.7). */
  deleteDevice(sender: string, senderDevice: number): number {
    return this.ctx
      .stmt("DELETE FROM sender_keys WHERE sender = ? AND sender_device = ? AND own = 0")
      .run(sender, senderDevice).changes;
  }
}

/** The sealed column's row key: device 1's as before §17, any other device's with its id (schema.ts V6). */
function rowKey(chatId: number, sender: string, keyId: number, device: number): (string | number)[] {
  return device === 1 ? [chatId, sender, keyId] : [chatId, sender, keyId, device];
}
