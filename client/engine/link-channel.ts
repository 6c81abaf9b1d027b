/**
 * One device link's mailbox as either side sees it (SECURITY.md §17.6, §17.8): posts with
 * `link_post`, and the other side's messages, pushed as `link_msg`, taken one at a time in
 * order with `next(type)`. The first failure ends the link for good, queued messages included:
 * a message of another type than the exchange expects now, a tag that fails, or the link's
 * 5 minutes passing (LINK_LIFETIME_MS, counted here from the start so that neither side waits
 * past the relay's own expiry). The connection closing only stops new messages: what arrived
 * before can still be read (the new device's connection may be cut once the existing device
 * ended the link, after its grant arrived, §17.8).
 */
import { type LinkMessageType, LINK_LIFETIME_MS, openLinkMessage, sealLinkMessage } from "../../crypto/device-link.js";
import type { Rng } from "../../crypto/rng.js";
import { bytesEqual } from "../../crypto/bytes.js";
import { RemoteError, SmsgError } from "../../src/errors.js";
import type { RelayClient } from "../relay-client.js";

/** The link ended before the exchange finished (nothing was stored, nothing was added). Code LINK_UNKNOWN (exit 11). */
export class LinkEndedError extends SmsgError {
  constructor(why: string, options?: { cause?: unknown }) {
    super("LINK_UNKNOWN", `the device link ended: ${why}; nothing was added or stored`, options);
  }
}

type Relay = Pick<RelayClient, "request" | "on" | "off" | "isClosed">;

/** The mailbox of link `linkId` on `relay` (see the file comment). Call `dispose` when done. */
export class LinkChannel {
  private readonly queue: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  /** Why the link is dead (a failed check, its lifetime passed, disposed): nothing more is read. */
  private ended: Error | undefined;
  /** Why the connection closed: what already came can still be read (a grant that arrived before). */
  private disconnected: Error | undefined;
  private readonly deadline: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly relay: Relay,
    readonly linkId: Uint8Array,
    private readonly rng: Rng,
    now: number = Date.now(),
    lifetimeMs: number = LINK_LIFETIME_MS,
  ) {
    this.deadline = now + lifetimeMs;
    relay.on("link_msg", this.onMessage);
    relay.on("close", this.onClose);
    this.timer = setTimeout(() => this.end(new LinkEndedError("its 5 minutes passed")), lifetimeMs);
    this.timer.unref();
  }

  private readonly onMessage = (m: { link: Uint8Array; message: Uint8Array }) => {
    if (!bytesEqual(m.link, this.linkId)) return;
    this.queue.push(m.message);
    this.wake();
  };

  private readonly onClose = (err: Error | undefined) => {
    this.disconnected ??= new LinkEndedError(`the connection to the relay closed (${err?.message ?? "closed"})`, {
      cause: err,
    });
    this.wake();
  };

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private end(err: Error): void {
    this.ended ??= err;
    this.wake();
  }

  /** When the link stops being usable (ms since the epoch). */
  get expiresAt(): number {
    return this.deadline;
  }

  /** Seals `body` as message `type` under `key` and posts it. Throws LinkEndedError when the relay no longer knows the link. */
  async post(key: Uint8Array, type: LinkMessageType, body: Uint8Array): Promise<void> {
    if (this.ended) throw this.ended;
    if (this.disconnected) throw this.disconnected;
    const message = sealLinkMessage(key, this.linkId, type, body, this.rng);
    try {
      await this.relay.request<"link_post">({ t: "link_post", link: this.linkId, message });
    } catch (e) {
      if (e instanceof RemoteError && e.code === "LINK_UNKNOWN")
        throw new LinkEndedError("the relay no longer knows it (used by another device, expired or closed)", {
          cause: e,
        });
      throw e;
    }
  }

  /**
   * The next message, opened as `type` under `key`. Throws LinkEndedError when the link ended,
   * or when the message is of another type or does not open (the link is then dead, §17.6).
   */
  async next(key: Uint8Array, type: LinkMessageType): Promise<Uint8Array> {
    for (;;) {
      if (this.ended) throw this.ended;
      if (this.queue.length > 0) break;
      if (this.disconnected) throw this.disconnected;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const message = this.queue.shift()!;
    try {
      return openLinkMessage(key, this.linkId, type, message);
    } catch (e) {
      const err = new LinkEndedError("the other device sent a message that does not belong to this link", { cause: e });
      this.end(err);
      throw err;
    }
  }

  /** Ends the link on the relay (best effort: it may have ended already) and stops listening. */
  async close(): Promise<void> {
    this.dispose();
    if (this.relay.isClosed) return;
    await this.relay.request<"link_close">({ t: "link_close", link: this.linkId }).catch(() => undefined);
  }

  /** Stops listening (the link itself stays as the relay has it). */
  dispose(): void {
    clearTimeout(this.timer);
    this.relay.off("link_msg", this.onMessage);
    this.relay.off("close", this.onClose);
    this.end(new LinkEndedError("it was closed"));
  }
}
