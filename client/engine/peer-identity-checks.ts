/**
 * The identity check before a direct send (SECURITY.md §1 "When the relay is asked for a
 * contact's key") for an interactive session's command connection: asked of the relay once per
 * contact rather than once per message. `smsg open` sends many texts on one connection, and each
 * `lookup_user` round trip (its `user` answer carries the 128-byte IdentityPublic) cost more
 * bytes than the message. One-shot commands, and every caller that does not pass one of these to
 * sendText, ask per send as before.
 *
 * What is remembered is the relay's answer, never a verdict: every send still pins that answer
 * against the store (sessions.ts pinIdentity), so a change found earlier, or one the user
 * accepted or verified since, counts at once, and a refused answer is not remembered. The relay
 * is asked again after IDENTITY_RECHECK_MS, once it pushes `device_list_changed` for that account
 * on this connection (an account key change comes with a new list, §17.1), and on a new
 * connection (a new PeerIdentityChecks).
 */
import type { RelayClient } from "../relay-client.js";
import type { PinResult } from "../store/index.js";
import type { Account } from "./open-account.js";
import { lookupIdentity, pinIdentity } from "./sessions.js";

/** How long one connection's answer for one contact is used before the relay is asked again. */
export const IDENTITY_RECHECK_MS = 10 * 60_000;

/** The relay's answers on one connection, by username (see the file comment). */
export class PeerIdentityChecks {
  private readonly answers = new Map<string, { readonly identity: Uint8Array; readonly at: number }>();

  constructor(
    private readonly acct: Account,
    readonly relay: RelayClient,
  ) {
    relay.on("device_list_changed", (ev) => this.answers.delete(ev.username));
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
    if (known && now >= known.at && now - known.at < IDENTITY_RECHECK_MS)
      return pinIdentity(this.acct, peer, known.identity);
    this.answers.delete(peer);
    const identity = await lookupIdentity(this.relay, peer);
    const pin = pinIdentity(this.acct, peer, identity);
    this.answers.set(peer, { identity, at: now });
    return pin;
  }
}
