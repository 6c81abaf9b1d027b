/**
 * The device-link mailboxes of SECURITY.md §17.6 and §17.8, in the relay process's memory: a
 * link opened by a logged-in device E, whose first other poster becomes the new side N, and
 * which carries at most LINK_MAX_MESSAGES sealed messages between the two connections. It ends
 * on link_close, when either connection closes, or LINK_LIFETIME_MS after it opened. Nothing is
 * stored: with several relays on one database both sides must reach the same relay (§17.8).
 * Expiry is checked against the relay's clock whenever a link is used (and expired links are
 * swept on every open and post), so no timer is needed and tests move the clock. What one
 * device can make the process hold is bounded: LINK_MAX_PER_OPENER links, each holding at most
 * LINK_MAX_HELD message until its new side arrives, and LINK_MAX_OPEN links in all.
 */
import { LINK_LIFETIME_MS } from "../crypto/device-link.js";
import type { HandlerConnection } from "./handlers/handler-connection.js";

/** The messages of one link: five in the protocol (§17.6), so no more are carried. */
export const LINK_MAX_MESSAGES = 5;
/** Links one connection may have open at once: one device links one machine at a time (§17.8). */
export const LINK_MAX_PER_OPENER = 2;
/** Links open in the whole relay process, so logged-in devices cannot fill its memory (§17.8). */
export const LINK_MAX_OPEN = 10_000;
/** E's posts held before N arrives: none in the protocol (E answers N's commit), one tolerated. */
export const LINK_MAX_HELD = 1;

interface Link {
  readonly id: Uint8Array;
  readonly opener: HandlerConnection;
  newSide: HandlerConnection | undefined;
  readonly expiresAt: number;
  carried: number;
  /** E's posts made before N arrived, delivered to N when it first posts. */
  readonly held: Uint8Array[];
}

export type LinkOpenResult = "ok" | "in_use" | "too_many";
export type LinkPostResult = "ok" | "unknown" | "full" | "early";

const keyOf = (id: Uint8Array) => Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("hex");

export class LinkMailboxes {
  private readonly links = new Map<string, Link>();

  constructor(
    private readonly now: () => number,
    private readonly lifetimeMs: number = LINK_LIFETIME_MS,
  ) {}

  /**
   * Opens link `id` for `opener` (E); "in_use" if a live link has that id, "too_many" when the
   * opener already has LINK_MAX_PER_OPENER links open or the process LINK_MAX_OPEN.
   */
  open(opener: HandlerConnection, id: Uint8Array): LinkOpenResult {
    this.sweep();
    const key = keyOf(id);
    if (this.links.has(key)) return "in_use";
    let mine = 0;
    for (const l of this.links.values()) if (l.opener === opener) mine++;
    if (mine >= LINK_MAX_PER_OPENER || this.links.size >= LINK_MAX_OPEN) return "too_many";
    this.links.set(key, {
      id: id.slice(),
      opener,
      newSide: undefined,
      expiresAt: this.now() + this.lifetimeMs,
      carried: 0,
      held: [],
    });
    return "ok";
  }

  /**
   * Posts `message` from `from`: the opener's goes to N (held until N exists), anyone else's
   * makes it N if there is none yet and goes to E. "unknown" for no such live link or a third
   * connection; "full" once the link carried LINK_MAX_MESSAGES; "early" for an opener's post
   * beyond LINK_MAX_HELD before N arrived (nothing is carried).
   */
  post(from: HandlerConnection, id: Uint8Array, message: Uint8Array): LinkPostResult {
    this.sweep();
    const link = this.live(id);
    if (!link) return "unknown";
    const fromOpener = from === link.opener;
    if (!fromOpener && link.newSide !== undefined && link.newSide !== from) return "unknown";
    if (link.carried >= LINK_MAX_MESSAGES) return "full";
    link.carried += 1;
    if (fromOpener) {
      if (link.newSide) push(link.newSide, link.id, message);
      else if (link.held.length >= LINK_MAX_HELD) {
        link.carried -= 1;
        return "early";
      } else link.held.push(message.slice());
      return "ok";
    }
    if (link.newSide === undefined) {
      link.newSide = from;
      for (const m of link.held.splice(0)) push(from, link.id, m);
    }
    push(link.opener, link.id, message);
    return "ok";
  }

  /** Ends link `id` if `by` is one of its sides; false otherwise (unknown, expired, a stranger). */
  close(by: HandlerConnection, id: Uint8Array): boolean {
    const link = this.live(id);
    if (!link || (by !== link.opener && by !== link.newSide)) return false;
    this.links.delete(keyOf(id));
    return true;
  }

  /** Ends every link `conn` is a side of (called when a connection closes). */
  connectionClosed(conn: HandlerConnection): void {
    for (const [k, l] of this.links) if (l.opener === conn || l.newSide === conn) this.links.delete(k);
  }

  /** Whether `conn` is the new side of a live link: it may stay unauthenticated meanwhile. */
  isNewSide(conn: HandlerConnection): boolean {
    const now = this.now();
    for (const l of this.links.values()) if (l.newSide === conn && l.expiresAt > now) return true;
    return false;
  }

  /** Drops expired links (on every open and post, so an idle relay holds none for long). */
  private sweep(): void {
    const now = this.now();
    for (const [k, l] of this.links) if (l.expiresAt <= now) this.links.delete(k);
  }

  private live(id: Uint8Array): Link | undefined {
    const key = keyOf(id);
    const link = this.links.get(key);
    if (link && link.expiresAt <= this.now()) {
      this.links.delete(key);
      return undefined;
    }
    return link;
  }
}

function push(to: HandlerConnection, link: Uint8Array, message: Uint8Array): void {
  to.send({ t: "link_msg", link, message });
}
