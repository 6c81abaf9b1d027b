/**
 * What the engine suites do with a queued outbox entry by hand: send it over another
 * connection as the flush would (one `send`, or the per-device copies of a 1:1 message,
 * SECURITY.md §17.8), and queue it again exactly as it was.
 */
import type { RelayClient } from "../../../client/relay-client.js";
import type { ClientStore, OutboxRecord } from "../../../client/store/index.js";

/** Sends `row` over `relay` the way flushOutbox does (its idem, its envelope or copies). Returns the relay's `sent`. */
export async function sendRow(relay: RelayClient, row: OutboxRecord): Promise<{ msg: number; duplicate: boolean }> {
  if (row.envelope !== null)
    return relay.request<"send">({ t: "send", chat: row.chatId, idem: row.idem, envelope: row.envelope });
  return relay.request<"send_copies">({
    t: "send_copies",
    chat: row.chatId,
    idem: row.idem,
    copies: row.copies.map((c) => ({ to: c.to, device: c.device, envelope: c.envelope })),
  });
}

/** Queues `row` again, exactly as it was (a retry whose answer was lost). */
export function requeue(store: ClientStore, row: OutboxRecord): void {
  if (row.app === null) {
    store.outbox.add({
      idem: row.idem,
      chatId: row.chatId,
      messageId: row.messageId,
      envelope: row.envelope!,
      to: row.to,
    });
    return;
  }
  store.outbox.addDirect({
    idem: row.idem,
    chatId: row.chatId,
    messageId: row.messageId,
    app: row.app,
    encrypted: row.envelope !== null ? { envelope: row.envelope } : { copies: row.copies },
  });
}

/**
 * Puts `envelope` in a direct chat as one copy for device 1 of `to` (what a hostile relay or a
 * captured account can do): `send_copies`, as a §17 relay takes nothing else in a direct chat
 * whose members have device lists (SECURITY.md §17.8). For one-device accounts only.
 */
export async function sendRawCopy(
  relay: RelayClient,
  chat: number,
  to: string,
  envelope: Uint8Array,
  idem: Uint8Array,
) {
  return relay.request<"send_copies">({ t: "send_copies", chat, idem, copies: [{ to, device: 1, envelope }] });
}
