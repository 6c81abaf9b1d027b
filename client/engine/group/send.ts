/**
 * Sending a text in a group (SECURITY.md §7.5): read the relay's member list, make sure every
 * confirmed member holds our current sender key (keys.ts, rotating it when needed), encrypt the
 * text once under it, and send one envelope for the whole chat. Group texts written offline
 * are deferred.ts.
 */
import { SmsgError } from "../../../src/errors.js";
import { nextSeq } from "../../protocol/sequence.js";
import type { RelayClient } from "../../relay-client.js";
import type { ChatRecord } from "../../store/index.js";
import type { Account } from "../open-account.js";
import { type QueuedMessage, type SendResult, flushOutbox } from "../outbox.js";
import { storeOutgoingText } from "../text-rows.js";
import { distributeOwnKey, ownKeyCurrent, sealGroupText } from "./keys.js";
import { refreshMembers } from "./records.js";

/**
 * Sends `body` in a group: refresh members, distribute/rotate our key, encrypt once under our
 * sender key (padded app message), store the message and the advanced key in one transaction,
 * flush. Returns the send result and warnings.
 */
export async function sendGroupText(
  acct: Account,
  relay: RelayClient,
  chat: ChatRecord,
  body: string,
): Promise<SendResult & { warnings: string[] }> {
  const { store } = acct;
  const warnings: string[] = [];
  let queued: QueuedMessage | undefined;
  // The key check and the encryption share one transaction; a membership change accepted while
  // distributeOwnKey waited on the network means distributing (rotating) again.
  for (let attempt = 0; queued === undefined; attempt++) {
    if (attempt === 3)
      throw new SmsgError(
        "GROUP_CHANGED",
        `the membership of chat ${chat.id} kept changing while sending: nothing was sent, try again`,
      );
    await refreshMembers(acct, relay, chat.id);
    warnings.push(...(await distributeOwnKey(acct, relay, chat.id)));
    queued = store.transaction((): QueuedMessage | undefined => {
      if (!ownKeyCurrent(acct, chat.id)) return undefined;
      const seq = nextSeq(store.messages.lastSenderSeq(chat.id, acct.username) ?? 0);
      const ts = acct.now();
      return storeOutgoingText(acct, chat.id, { seq, ts, body }, sealGroupText(acct, chat.id, { seq, ts, body }));
    });
  }
  const flushed = await flushOutbox(acct, relay);
  const sent = flushed.sent.find((s) => s.messageId === queued.messageId);
  if (sent) return { queued, sent, warnings: [...new Set(warnings)] };
  const failed = flushed.failed.find((f) => f.messageId === queued.messageId);
  throw new SmsgError(failed?.code ?? "SEND_FAILED", `the relay refused the message: ${failed?.reason ?? "no answer"}`);
}
