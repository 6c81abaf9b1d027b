/**
 * What a Receiver stored from pushes and has not acked yet: the `have` of its next `sync`
 * (SECURITY.md §14.7 "Held messages"), so that the reply carries a `held` stub for each instead of
 * the envelope a second time. Memory only, per connection, and bounded: at most MAX_SYNC_HAVE
 * entries; a push beyond that is not remembered and simply comes again in full, as does
 * everything after a restart (the store de-duplicates it by (chat, relay id): nothing is lost).
 */
import { MAX_SYNC_HAVE } from "../../src/wire/limits.js";

/** (chat, relay message id) pairs, bounded (see the file comment). */
export class HeldMessages {
  private readonly byChat = new Map<number, Set<number>>();
  private count = 0;

  /** Remembers a stored message; false (nothing remembered) once MAX_SYNC_HAVE are held. */
  add(chat: number, msg: number): boolean {
    let ids = this.byChat.get(chat);
    if (ids?.has(msg)) return true;
    if (this.count >= MAX_SYNC_HAVE) return false;
    if (!ids) this.byChat.set(chat, (ids = new Set()));
    ids.add(msg);
    this.count++;
    return true;
  }

  /** Forgets one entry. */
  delete(chat: number, msg: number): void {
    const ids = this.byChat.get(chat);
    if (!ids?.delete(msg)) return;
    this.count--;
    if (ids.size === 0) this.byChat.delete(chat);
  }

  /** Forgets every entry of `chat` up to `upto`: the cursor moved over them. */
  acked(chat: number, upto: number): void {
    for (const msg of this.byChat.get(chat) ?? []) if (msg <= upto) this.delete(chat, msg);
  }

  /** How many entries are held. */
  get size(): number {
    return this.count;
  }

  /** The entries as `sync.have` pairs, oldest id first (the order a sync reply comes in). */
  entries(): [chat: number, msg: number][] {
    const out: [number, number][] = [];
    for (const [chat, ids] of this.byChat) for (const msg of ids) out.push([chat, msg]);
    return out.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  }
}
