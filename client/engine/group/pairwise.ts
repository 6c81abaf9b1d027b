/**
 * The pairwise channel inside a group chat (SECURITY.md §15.2.5): group states, sender-key
 * distributions and display names go to each member as a 1:1 session envelope posted in the
 * GROUP chat, directed (`to`) at that member. Used by the membership commands (membership.ts)
 * and the sender-key distribution (keys.ts).
 */
import { SmsgError } from "../../../src/errors.js";
import { type AppMessage, encodeAppMessage } from "../../protocol/app-message.js";
import type { RelayClient } from "../../relay-client.js";
import { derivedIdem } from "../../../src/wire/index.js";
import { KeyChangedError } from "../errors.js";
import type { Account } from "../open-account.js";
import { checkIdentity, encryptForPeer, ensureSession } from "../sessions.js";

/** Queues a pairwise (1:1 session) application message in the group chat, directed at `peer`. Inside a transaction. */
export function queuePairwise(acct: Account, chat: number, peer: string, app: AppMessage): void {
  const { store } = acct;
  const envelope = encryptForPeer(acct, peer, encodeAppMessage(app));
  const { id } = store.messages.insert({
    chatId: chat,
    relayMsgId: null,
    sender: acct.username,
    sentAt: acct.now(),
    body: null,
    direction: "out",
    status: "pending",
    senderSeq: null,
  });
  store.outbox.add({ idem: derivedIdem(envelope), chatId: chat, messageId: id, envelope, to: peer });
}

/**
 * Makes sure a session exists with each peer; returns those we can send to, with a warning for
 * each other one. A peer we cannot reach (key changed, unknown to the relay, a bundle that
 * does not verify, the relay refusing the request) is skipped, so one member cannot stop the
 * group; it is not recorded as a holder, so the next send tries again. A lost connection is
 * thrown.
 */
export async function reachable(
  acct: Account,
  relay: RelayClient,
  peers: readonly string[],
  warnings: string[],
): Promise<string[]> {
  const ok: string[] = [];
  for (const p of peers) {
    try {
      await checkIdentity(acct, relay, p);
      await ensureSession(acct, relay, p);
      ok.push(p);
    } catch (e) {
      if (e instanceof KeyChangedError)
        warnings.push(`${p}'s identity key changed: they get nothing from this group until you verify it`);
      else if (e instanceof SmsgError && !relay.isClosed)
        warnings.push(`${p} cannot be given this group's messages now (${e.message}); a later send tries again`);
      else throw e;
    }
  }
  return ok;
}
