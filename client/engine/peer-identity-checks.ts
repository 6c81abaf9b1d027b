/**
 * The identity check before a direct send (SECURITY.md §1 "When the relay is asked for a
 * contact's key") for an interactive session's command connection: asked of the relay once per
 * contact rather than once per message. `smsg open` sends many texts on one connection, and each
 * `lookup_user` round trip (its `user` answer carries the 128-byte IdentityPublic) cost more
 * bytes than the message. One-shot commands, and every caller that does not pass one of these to
 * sendText, ask per send as before.
 *
 * What is remembered is the relay's answer, never a verdict, and it is used only while the store
 * still pins exactly that key with no change pending: a change found since (by any path) blocks
 * the send without asking, and a key the user accepted or verified since makes the relay be
 * asked again, so an old answer is never pinned against a newer choice. The relay is asked again
 * after IDENTITY_RECHECK_MS, once it pushes `device_list_changed` for that account on this
 * connection (an account key change comes with a new list, §17.1; an answer in flight when that
 * push came is not kept), and on a new connection (a new PeerIdentityChecks).
 */
import type { RelayClient } from "../relay-client.js";
import type { PinResult } from "../store/index.js";
import type { Account } from "./open-account.js";
import { bytesEqual } from "../../crypto/bytes.js";
import { assertTrusted, lookupIdentity, pinIdentity } from "./sessions.js";

/** How long one connection's answer for one contact is used before the relay is asked again. */
export const IDENTITY_RECHECK_MS = 10 * 60_000;

/** The relay's answers on one connection, by username (see the file comment). */
export class PeerIdentityChecks {
  private readonly answers = new Map<string, { readonly identity: Uint8Array; readonly at: number }>();
  /** Per username, how many `device_list_changed` pushes came: an answer asked before one is not kept. */
  private readonly changes = new Map<string, number>();

  constructor(
    private readonly acct: Account,
    readonly relay: RelayClient,
  ) {
    relay.on("device_list_changed", (ev) => {
      this.answers.delete(ev.username);
      this.changes.set(ev.username, (this.changes.get(ev.username) ?? 0) + 1);
    });
  }

  /**
   * checkIdentity (sessions.ts) for a send: the answer from earlier on this connection when it is
   * younger than IDENTITY_RECHECK_MS, else a `lookup_user`; pinned either way. Throws what
   * checkIdentity throws (KeyChangedError for a changed or still pending key).
   */
  async check(peer: string): Promise<PinResult> {
    const known = this.answers.get(peer);
    const now = this.acct.now();
    // A clock that went back counts as too old.
    if (known && now >= known.at && now - known.at < IDENTITY_RECHECK_MS) {
      assertTrusted(this.acct.store, peer); // a change pending since: blocked, nothing asked
      const pinned = this.acct.store.contacts.get(peer)?.identity;
      if (pinned !== undefined && bytesEqual(pinned, known.identity)) return "same";
      // Another key is pinned now (accepted or verified since), or none: the relay is asked again.
    }
    this.answers.delete(peer);
    const asked = this.changes.get(peer) ?? 0;
    const identity = await lookupIdentity(this.relay, peer);
    const pin = pinIdentity(this.acct, peer, identity);
    if ((this.changes.get(peer) ?? 0) === asked) this.answers.set(peer, { identity, at: now });
    return pin;
  }
}
