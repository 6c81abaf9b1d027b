/**
 * Receiving on one logged-in connection: every `msg` frame (pushed or from a `sync` reply) is
 * processed in arrival order (inbox.ts), and chat events are applied. A push is stored alone; the
 * frames of a `sync` reply are collected until its `synced` and stored as one page, many frames
 * per commit (inbox.ts receivePage), then acked: one synchronous commit per page rather than per
 * message is what makes a long first sync fast, and nothing is acked before it is on disk. Delivery
 * cursors move only through `sync`: a sync reply holds, for each chat, everything after our
 * cursor in id order, so acking the highest id of a reply never skips a message. Pushed
 * messages are stored at once, but acked only when a later sync returns them again (they are
 * then recognised and not decrypted twice): pushes relayed by different relays can arrive out
 * of order, and acking one could skip a message still on its way.
 *
 * Held messages (SECURITY.md §14.7): what pushes stored is remembered (held-messages.ts) and
 * named in the next `sync` as `have`, and the reply carries a `held` stub, without the envelope,
 * in the place of each: the envelope crosses the link once, and the round still acks only over
 * its reply. A stub is accepted only for a message the store holds; one for a message it does not
 * (the chat was deleted since, or a broken relay) fails like a frame that could not be stored, so
 * the round acks only up to before it, forgets it, and runs again at once, asking for it in full
 * (a stub for the same message again, which a relay sends only when broken since the entry left
 * `have`, is reported as HeldMissingError, and the round waits for the next sync). A relay
 * before `have` answers BAD_MESSAGE (an unknown field): the round asks again without it, and the
 * receiver never sends it on that connection again.
 *
 * The relay marks the frames answering a request (`reply`), so a round counts only its own
 * frames. Pushes are held back until the first sync is done and while a round runs, then
 * processed after its frames: a message pushed while older ones of the same sender still wait
 * in the sync would otherwise be seen first and raise a false gap (sequence numbers).
 *
 * Devices (SECURITY.md §17.4, §17.7): a `device_list_changed` push makes the receiver fetch and
 * accept that account's list (device-list-update.ts), in the same queue as the frames, so a
 * message that follows it is checked against the new list; sessions with the devices it removed
 * are deleted. When our own account's list no longer holds this device, the receiver says so once
 * and stops (the relay closes the connection and refuses this device's logins from then on). A
 * frame from a device that used an older version of our own list is reported to `onStaleSender`
 * once per (chat, device, our list version) per receiver, after its commit: the caller sends it
 * our current list (§17.5); the receiver itself sends nothing.
 */
import { RemoteError } from "../../src/errors.js";
import type { RelayMessageOf } from "../../src/wire/messages.js";
import { MAX_PAGE_LIMIT } from "../../src/wire/limits.js";
import type { RelayClient } from "../relay-client.js";
import { applyChatEvent } from "./chats.js";
import { followDeviceList, holdsListVersion } from "./device-list-update.js";
import { HeldMissingError } from "./errors.js";
import type { EngineEvent, EventSink, StaleSender } from "./events.js";
import { HeldMessages } from "./held-messages.js";
import { type FrameOutcome, type PageFrame, receiveMessage, receivePage } from "./inbox.js";
import type { Account } from "./open-account.js";

/** Messages asked for per `sync` request. */
export const SYNC_PAGE = 500;
/** Most `sync` rounds one syncAll makes (each acks what it got, so this bounds only a runaway relay). */
const MAX_SYNC_ROUNDS = 10_000;

/**
 * One `sync` round: the frames its reply brought, in order (stored together once the reply is
 * complete: inbox.ts receivePage), then per chat the ids stored (or already stored) and the ids that failed.
 */
interface SyncWindow {
  readonly frames: PageFrame[];
  readonly stored: Map<number, number[]>;
  readonly failed: Map<number, number[]>;
  /** `held` stubs for messages the store does not hold (HeldMissingError). */
  readonly missing: RelayMessageOf<"held">[];
}

function add(map: Map<number, number[]>, chat: number, id: number): void {
  const ids = map.get(chat);
  if (ids) ids.push(id);
  else map.set(chat, [id]);
}

/** Options of Receiver. */
export interface ReceiverOptions {
  /** Gets every event (messages, gaps, key changes, undecryptable messages, chat events). */
  readonly onEvent?: EventSink;
  /** A frame or event that could not be processed for a local reason (it comes again with the next sync). */
  readonly onError?: (err: unknown) => void;
  /**
   * Called after each msg frame was processed (stored, found stored already, or failed), and
   * after a `device_list_changed` push was: whatever they journaled is committed by then.
   */
  readonly onFrame?: () => void;
  /**
   * A device that sent to us from an older version of our own device list than we accepted
   * (SECURITY.md §17.5): the caller sends that device our current signed list (`device_list`,
   * §17.7), pairwise, in chat `chatId`. Called after the frame's commit.
   */
  readonly onStaleSender?: (chatId: number, sender: StaleSender) => void;
}

/** Processes what one connection receives, and runs `sync` (see the file comment). */
export class Receiver {
  private queue: Promise<void> = Promise.resolve();
  private detached = false;
  /** Pushes held back (see the file comment); undefined while pushes are processed as they come. */
  private held: RelayMessageOf<"msg">[] | undefined = [];
  private window: SyncWindow | undefined;
  private syncing: Promise<unknown> = Promise.resolve();
  private readonly onMsg = (m: RelayMessageOf<"msg">) => {
    if (m.reply === true && this.window) this.window.frames.push(m);
    else if (m.reply !== true && this.held) this.held.push(m);
    else this.enqueueMessage(m);
  };
  /** A stub only ever answers our sync; outside a round it would say nothing to act on. */
  private readonly onHeld = (m: RelayMessageOf<"held">) => this.window?.frames.push(m);
  /** What pushes stored and no round acked yet: the next sync's `have` (file comment). */
  private readonly stored = new HeldMessages();
  /** The relay refused `have` (it predates it): this connection syncs without it. */
  private haveRefused = false;
  private readonly onChatEvent = (ev: RelayMessageOf<"chat_event">) => this.enqueueChatEvent(ev);
  private readonly onDeviceListChanged = (ev: RelayMessageOf<"device_list_changed">) =>
    this.enqueueDeviceListChange(ev);
  /** Stale senders already reported (onStaleSender), by chat, account, device and our list version. */
  private readonly staleReported = new Set<string>();

  /** Starts listening to `relay`'s msg, chat_event and device_list_changed events. */
  constructor(
    private readonly acct: Account,
    private readonly relay: RelayClient,
    private readonly opts: ReceiverOptions = {},
  ) {
    relay.on("msg", this.onMsg);
    relay.on("held", this.onHeld);
    relay.on("chat_event", this.onChatEvent);
    relay.on("device_list_changed", this.onDeviceListChanged);
  }

  /**
   * Stops listening to the connection. Frames already queued are dropped, and a frame being
   * processed that then fails (the store closes after this) is not reported: none of them was
   * acked, so the next sync brings them again. (A one-shot command's own actions are pushed
   * back to it as chat events, often just as it ends.)
   */
  detach(): void {
    this.detached = true;
    this.relay.off("msg", this.onMsg);
    this.relay.off("held", this.onHeld);
    this.relay.off("chat_event", this.onChatEvent);
    this.relay.off("device_list_changed", this.onDeviceListChanged);
  }

  /**
   * Processes the pushes held so far and those that come from now on (done by each sync round; call it when
   * going online without a sync).
   */
  releasePushes(): void {
    const held = this.held;
    this.held = undefined;
    for (const m of held ?? []) this.enqueueMessage(m);
  }

  /** Resolves once every frame received so far has been processed. */
  async drain(): Promise<void> {
    for (;;) {
      const q = this.queue;
      await q;
      if (q === this.queue) return;
    }
  }

  /** A frame outside a round's page (a push, or a reply frame of no round of ours): stored alone. */
  private enqueueMessage(m: RelayMessageOf<"msg">): void {
    this.queue = this.queue.then(async () => {
      if (this.detached) return;
      let outcome: FrameOutcome;
      try {
        outcome = { ok: true, received: await receiveMessage(this.acct, this.relay, m) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      if (outcome.ok) this.remember(m);
      this.report(outcome);
    });
  }

  /**
   * Holds a processed frame from now on (the next sync's `have`) if the store has it: a frame
   * told but not stored (undecryptable in a chat we do not have) must come again in full. Not
   * remembering is always safe (the envelope then comes again), so a failing store read is ignored.
   */
  private remember(m: RelayMessageOf<"msg">): void {
    if (this.haveRefused) return;
    try {
      if (this.acct.store.messages.getByRelayId(m.chat, m.msg)) this.stored.add(m.chat, m.msg);
    } catch {
      // (the store closed after detach, or failed: the message simply comes again in full)
    }
  }

  /** A round's page: stored in as few transactions as it can (inbox.ts receivePage), each frame reported after its commit. */
  private enqueuePage(w: SyncWindow): void {
    this.queue = this.queue.then(async () => {
      if (this.detached) return;
      await receivePage(
        this.acct,
        this.relay,
        w.frames,
        (m, outcome) => {
          add(outcome.ok ? w.stored : w.failed, m.chat, m.msg);
          if (!outcome.ok && outcome.error instanceof HeldMissingError && m.t === "held") w.missing.push(m);
          this.report(outcome);
        },
        () => this.detached,
      );
    });
  }

  private report(outcome: FrameOutcome): void {
    if (this.detached) return;
    if (outcome.ok) {
      this.tell(outcome.received.events);
      const stale = outcome.received.staleSender;
      if (stale) this.reportStale(stale);
    } else {
      this.tell(outcome.events ?? []);
      // A missing stub, and the frames of its chat after it, come again in the next round (syncAll): no warning.
      if (!(outcome.error instanceof HeldMissingError)) this.opts.onError?.(outcome.error);
    }
    this.opts.onFrame?.();
    this.stopIfRemoved(outcome.ok ? outcome.received.events : (outcome.events ?? []));
  }

  private tell(events: readonly EngineEvent[]): void {
    for (const e of events) this.opts.onEvent?.(e);
  }

  /** onStaleSender, once per (chat, device, our list version) for this receiver: the device corrects itself with our list. */
  private reportStale(s: StaleSender): void {
    const version = this.acct.store.deviceLists.get(this.acct.username)?.list.version ?? 0;
    const key = `${s.chat}:${s.user}:${s.device}:${version}`;
    if (this.staleReported.has(key)) return;
    this.staleReported.add(key);
    this.opts.onStaleSender?.(s.chat, s);
  }

  /** This device left our own account's list (§17.7): it receives nothing more, so the receiver stops. */
  private stopIfRemoved(events: readonly EngineEvent[]): void {
    if (events.some((e) => e.type === "device_list" && e.outcome === "this_device_removed")) this.detach();
  }

  /**
   * A `device_list_changed` push (§17.8): fetch and accept the list unless we hold that version
   * already (our own publish comes back to us too), in the queue, so later frames see it.
   */
  private enqueueDeviceListChange(ev: RelayMessageOf<"device_list_changed">): void {
    this.queue = this.queue.then(async () => {
      if (this.detached || holdsListVersion(this.acct, ev.username, ev.version)) return;
      let events: EngineEvent[];
      try {
        events = await followDeviceList(this.acct, this.relay, ev.username);
      } catch (e) {
        if (!this.detached) this.opts.onError?.(e);
        return;
      }
      if (this.detached) return;
      this.tell(events);
      this.opts.onFrame?.();
      this.stopIfRemoved(events);
    });
  }

  private enqueueChatEvent(ev: RelayMessageOf<"chat_event">): void {
    this.queue = this.queue.then(async () => {
      if (this.detached) return;
      try {
        await applyChatEvent(this.acct, this.relay, ev);
        this.opts.onEvent?.({ type: "chat_event", chat: ev.chat, event: ev.event, user: ev.user ?? null, by: ev.by });
      } catch (e) {
        if (!this.detached) this.opts.onError?.(e);
      }
    });
  }

  /**
   * Fetches everything waiting for us: `sync` rounds until the relay says there is no more,
   * each round processed, committed and then acked. Concurrent calls run one after the other.
   * Returns how many frames the rounds brought. Throws what RelayClient.request throws.
   * `onProgress` gets the frames so far after each round that the relay says is not the last,
   * and the total expected: the first round asks the relay how many more wait (`count`), so a
   * long sync can show a bar (messages arriving meanwhile can take `frames` past it).
   */
  syncAll(onProgress?: (frames: number, total: number | undefined) => void): Promise<number> {
    const run = this.syncing.then(async () => {
      let frames = 0;
      let total: number | undefined;
      // Stubs this syncAll got for messages the store lacks, as "chat/msg" (file comment).
      const missedBefore = new Set<string>();
      for (let round = 0; round < MAX_SYNC_ROUNDS; round++) {
        const r = await this.syncRound(round === 0 && onProgress !== undefined);
        frames += r.frames;
        if (r.pending !== undefined) total = frames + r.pending;
        if (r.missing.length > 0) {
          // Asked again at once, in full (the round dropped them from `have`). Other messages each
          // time (a deleted chat's pushes over several pages) is no fault; the same one again is.
          const again = r.missing.find((m) => missedBefore.has(`${m.chat}/${m.msg}`));
          if (again === undefined) {
            for (const m of r.missing) missedBefore.add(`${m.chat}/${m.msg}`);
            continue;
          }
          this.opts.onError?.(new HeldMissingError(again.chat, again.msg));
          break;
        }
        if (!r.more || r.frames === 0) break;
        onProgress?.(frames, total);
      }
      return frames;
    });
    this.syncing = run.catch(() => undefined);
    return run;
  }

  /**
   * One `sync` (with `have`: what pushes stored, unless the relay refused it): collect its frames,
   * wait until they are stored, move the cursors, ack, then forget what the cursors passed.
   * `count`: ask how many more wait. `missing`: the reply's stubs for messages we do not hold.
   */
  private async syncRound(count = false): Promise<{
    more: boolean;
    frames: number;
    pending: number | undefined;
    missing: readonly RelayMessageOf<"held">[];
  }> {
    await this.drain();
    const w: SyncWindow = { frames: [], stored: new Map(), failed: new Map(), missing: [] };
    this.window = w;
    this.held ??= [];
    const have = this.haveRefused ? [] : this.stored.entries();
    let more: boolean;
    let pending: number | undefined;
    try {
      const r = await this.requestSync(count, have);
      more = r.more;
      pending = r.pending;
    } finally {
      this.window = undefined;
      this.enqueuePage(w); // what came of the reply, also when the request failed: stored, not acked
      this.releasePushes(); // after the round's own frames
    }
    await this.drain();
    const acks: [chat: number, upto: number][] = [];
    let frames = 0;
    for (const [chat, ids] of w.stored) {
      frames += ids.length;
      const failed = w.failed.get(chat) ?? [];
      const firstFailed = failed.length > 0 ? Math.min(...failed) : Infinity;
      const ok = ids.filter((id) => id < firstFailed);
      if (ok.length > 0) acks.push([chat, Math.max(...ok)]);
    }
    for (const ids of w.failed.values()) frames += ids.length;
    if (acks.length > 0) {
      this.acct.store.transaction(() => {
        for (const [chat, upto] of acks) if (this.acct.store.chats.get(chat)) this.acct.store.cursors.set(chat, upto);
      });
      for (const [chat, upto] of acks) this.relay.notify({ t: "ack", chat, upto });
    }
    for (const [chat, upto] of acks) this.stored.acked(chat, upto);
    // A complete reply held everything of `have` still pending for us: the rest is not (acked
    // before, deleted, not for this device), and a stub for what we lack is asked for in full.
    if (!more) for (const [chat, msg] of have) this.stored.delete(chat, msg);
    for (const m of w.missing) this.stored.delete(m.chat, m.msg);
    // A round whose frames all failed must not loop forever on the same page.
    const progressed = acks.length > 0;
    return { more: more && progressed, frames, pending, missing: w.missing };
  }

  /**
   * The `sync` request, with `have` when it is not empty. A relay before `have` refuses the
   * field with BAD_MESSAGE and sends nothing of a reply (§14.7): asked again without it, and
   * never with it again on this connection.
   */
  private async requestSync(count: boolean, have: [number, number][]) {
    const ask = (withHave: boolean) =>
      this.relay.request<"sync">({
        t: "sync",
        limit: Math.min(SYNC_PAGE, MAX_PAGE_LIMIT),
        ...(count ? { count: true as const } : {}),
        ...(withHave ? { have } : {}),
      });
    if (have.length === 0) return ask(false);
    try {
      return await ask(true);
    } catch (e) {
      // An older relay names the field it does not know; any other BAD_MESSAGE is this sync's own.
      if (!(e instanceof RemoteError && e.code === "BAD_MESSAGE" && e.message.includes('"have"'))) throw e;
      this.haveRefused = true;
      return ask(false);
    }
  }
}
