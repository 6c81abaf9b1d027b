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
import { assertStillMember, current, noteDeparture } from "./departure.js";
import { distributeOwnKey, ownKeyCurrent, sealGroupText } from "./keys.js";
import { signDepartures } from "./membership.js";
import { refreshMembers, reportGone } from "./records.js";

/**
 * Sends `body` in a group: refresh members (a group we were removed from throws
 * NotGroupMemberError), sign out members who left when we are an admin, distribute/rotate our key, encrypt once under our
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
    assertStillMember(current(store, chat), "nothing was sent");
    if (attempt === 0) {
      // Members who left at the relay: an admin signs them out first; others hear of it once.
      warnings.push(...(await signDepartures(acct, relay, chat.id)));
      for (const e of reportGone(acct, chat.id))
        warnings.push(`${e.user} left the chat (the relay says; no admin has signed a membership without them yet)`);
    }
    warnings.push(...(await distributeOwnKey(acct, relay, chat.id)));
    queued = store.transaction((): QueuedMessage | undefined => {
      if (!ownKeyCurrent(acct, chat.id)) return undefined;
      const seq = nextOwnSeq(acct, chat.id);
      const ts = acct.now();
      return storeOutgoingText(acct, chat.id, { seq, ts, body }, sealGroupText(acct, chat.id, { seq, ts, body }));
    });
  }
  const flushed = await flushOutbox(acct, relay);
  const sent = flushed.sent.find((s) => s.messageId === queued.messageId);
  if (sent) return { queued, sent, warnings: [...new Set(warnings)] };
  const failed = flushed.failed.find((f) => f.messageId === queued.messageId);
  if (failed?.code === "CHAT_UNKNOWN" || failed?.code === "NOT_A_MEMBER") {
    // Removed between our check and the send (the message is marked failed).
    noteDeparture(acct, chat.id, "removed", null);
    assertStillMember(current(store, chat), "the message was not sent");
  }
  throw new SmsgError(failed?.code ?? "SEND_FAILED", `the relay refused the message: ${failed?.reason ?? "no answer"}`);
}

/** Our next sequence number in a group: each device numbers its own texts (SECURITY.md §17.5). */
export function nextOwnSeq(acct: Account, chat: number): number {
  return nextSeq(acct.store.messages.lastSenderSeq(chat, acct.username, 0, acct.deviceId) ?? 0);
}
