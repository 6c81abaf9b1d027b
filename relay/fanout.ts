/**
 * Delivery of committed messages and chat events to online clients: from memory on this
 * relay, and to the other relays sharing the database through PostgreSQL LISTEN/NOTIFY
 * (docs/ARCHITECTURE.md §3.9). Offline recipients get everything on their next sync instead.
 */
import { encodeMessageFrame, type ChatEventKind } from "../src/wire/index.js";
import type { Logger } from "./logger.js";
import type { Presence } from "./presence.js";
import type { CommittedMessage, Db, RelayStore } from "./store/index.js";
import { msgFrameEncoder } from "./msg-frames.js";

const MESSAGES_CHANNEL = "smsg_messages";
const EVENTS_CHANNEL = "smsg_chat_events";
/** NOTIFY payloads are limited to 8000 bytes: ids go in chunks well below it. */
const IDS_PER_NOTIFY = 400;
/** Most messages pushed by one catch-up; beyond it recipients get the rest on their next sync. */
const CATCH_UP_LIMIT = 10_000;
/** How long after a catch-up announcements of what it read may still arrive (and are skipped). */
const FORGET_AFTER_MS = 60_000;

/** A membership or state change of a chat, and who must hear of it. */
export interface ChatEvent {
  readonly chat: number;
  readonly event: ChatEventKind;
  readonly user?: string;
  readonly by: string;
  /** Account ids told about it: the members, plus whoever was just removed or left. */
  readonly audience: readonly number[];
}

export class Fanout {
  private unlisten: (() => Promise<void>)[] = [];
  /**
   * The pushes of messages, one batch after another in the order they were committed here or
   * announced by another relay: each push awaits lookups, and without this a later batch
   * could overtake an earlier one and a client would see a chat's messages out of id order.
   */
  private pushing: Promise<void> = Promise.resolve();
  /** Ids committed here and not yet announced to the other relays, in commit order (see `announce`). */
  private readonly toAnnounce: { ids: number[]; resolve: () => void }[] = [];
  /** The NOTIFY loop is running; it ends once `toAnnounce` is empty. */
  private announcing = false;
  /** The highest message id pushed here (committed here or announced). */
  private highWater = 0;
  /** highWater when the LISTEN connection was lost: catching up starts above it. */
  private lostAt: number | undefined;
  /**
   * From a loss of LISTEN until a while after the catch-up: the ids pushed, so that one read
   * by the catch-up and also announced (or pushed during the outage) is pushed once.
   */
  private pushedSinceLoss: Set<number> | undefined;
  private forgetTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RelayStore,
    private readonly db: Db,
    private readonly presence: Presence,
    private readonly relayId: string,
    private readonly log: Logger,
  ) {}

  /** Subscribes to the other relays' notifications. */
  async start(): Promise<void> {
    this.unlisten.push(await this.db.listen(MESSAGES_CHANNEL, (p) => void this.onRemoteMessages(p)));
    this.unlisten.push(await this.db.listen(EVENTS_CHANNEL, (p) => void this.onRemoteEvent(p)));
    this.db.onListener?.((state) => {
      if (state === "lost") {
        this.lostAt ??= this.highWater;
        this.pushedSinceLoss ??= new Set();
        clearTimeout(this.forgetTimer);
      } else void this.catchUp();
    });
  }

  /**
   * After the LISTEN connection was replaced: the other relays' announcements sent meanwhile
   * never arrived. Reads what was committed since the loss in the chats of the accounts online
   * here and pushes it, in id order and before any later announcement, so live delivery and
   * order hold. Messages already pushed are skipped (pushedSinceLoss).
   */
  private async catchUp(): Promise<void> {
    const floor = this.lostAt;
    this.lostAt = undefined;
    if (floor === undefined) return;
    const online = this.presence.onlineAccountIds();
    if (online.length === 0) return;
    try {
      const missed = this.db
        .query<{ id: number }>(
          `SELECT m.id FROM messages m
            WHERE m.id > $1 AND m.chat_id IN (SELECT chat_id FROM chat_members WHERE account_id = ANY($2::bigint[]))
            ORDER BY m.id LIMIT ${CATCH_UP_LIMIT}`,
          [floor, online],
        )
        .then((rows) => this.store.messagesByIds(rows.map((r) => Number(r.id))));
      missed.catch(() => undefined);
      await this.inOrder(async () => this.pushLocal(await missed));
      this.log.info({ after: floor }, "caught up on messages announced while LISTEN was down");
    } catch (e) {
      // Nothing is lost: the recipients get them on their next sync.
      this.log.warn({ err: String(e) }, "could not catch up after LISTEN was restored");
    } finally {
      // Announcements of what the catch-up read may still be on their way; then stop remembering.
      this.forgetTimer = setTimeout(() => {
        if (this.lostAt === undefined) this.pushedSinceLoss = undefined;
      }, FORGET_AFTER_MS);
      this.forgetTimer.unref();
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.forgetTimer);
    for (const u of this.unlisten.splice(0)) await u().catch(() => undefined);
  }

  /** Messages just committed by this relay: push to online recipients here, tell the others. */
  async committed(messages: readonly CommittedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await Promise.all([this.inOrder(() => this.pushLocal(messages)), this.announce(messages)]);
  }

  /**
   * Tells the other relays, in commit order. One NOTIFY at a time (two sent at once on
   * different pool connections may reach the others swapped); ids committed while one is in
   * flight wait and go together in the next, so a busy relay sends one NOTIFY per database
   * round trip, not one per commit. Resolves once these ids have been announced.
   */
  private announce(messages: readonly CommittedMessage[]): Promise<void> {
    const done = new Promise<void>((resolve) => this.toAnnounce.push({ ids: messages.map((m) => m.id), resolve }));
    if (!this.announcing) {
      this.announcing = true;
      void this.announceLoop();
    }
    return done;
  }

  private async announceLoop(): Promise<void> {
    // Let every commit that completes in this tick join the first NOTIFY.
    await Promise.resolve();
    while (this.toAnnounce.length > 0) {
      const waiting = this.toAnnounce.splice(0);
      const ids = waiting.flatMap((w) => w.ids);
      for (let i = 0; i < ids.length; i += IDS_PER_NOTIFY) {
        await this.db
          .notify(MESSAGES_CHANNEL, JSON.stringify({ r: this.relayId, ids: ids.slice(i, i + IDS_PER_NOTIFY) }))
          .catch((e: unknown) => {
            // Other relays' clients still get these on their next sync; nothing is lost.
            this.log.warn({ err: String(e) }, "notify of new messages failed");
          });
      }
      for (const w of waiting) w.resolve();
    }
    this.announcing = false;
  }

  /** A chat event: push to the audience online here, tell the other relays. */
  async chatEvent(ev: ChatEvent): Promise<void> {
    this.presence.invalidateChat(ev.chat);
    this.pushEvent(ev);
    await this.db.notify(EVENTS_CHANNEL, JSON.stringify({ r: this.relayId, ...ev })).catch((e: unknown) => {
      this.log.warn({ err: String(e) }, "notify of a chat event failed");
    });
  }

  private async pushLocal(messages: readonly CommittedMessage[]): Promise<void> {
    for (const m of messages) {
      if (this.pushedSinceLoss !== undefined) {
        if (this.pushedSinceLoss.has(m.id)) continue; // read by the catch-up and announced too
        this.pushedSinceLoss.add(m.id);
      }
      if (m.id > this.highWater) this.highWater = m.id;
      if (m.copies !== undefined) await this.pushCopies(m, m.copies);
      else if (m.envelope !== undefined) await this.pushEnvelope(m, m.envelope);
    }
  }

  /** Fields of the msg frame of `m` with `envelope`, from_device only when not 1 (SECURITY.md §17.8). */
  private async fieldsOf(m: CommittedMessage, envelope: Uint8Array) {
    return {
      chat: m.chatId,
      msg: m.id,
      from: await this.presence.usernameOf(m.senderId),
      ts: m.createdAt.getTime(),
      envelope,
      ...(m.recipientId !== null ? { to: await this.presence.usernameOf(m.recipientId) } : {}),
      ...(m.senderDevice !== 1 ? { from_device: m.senderDevice } : {}),
    };
  }

  /**
   * One envelope: to every device of the members who joined before it (as sync rules,
   * SECURITY.md §14.7: a push can come late, announced by another relay after a member was
   * added) except the sending device, whose mailbox opened before it; a directed one to
   * device 1 of its recipient only (§17.8).
   */
  private async pushEnvelope(m: CommittedMessage, envelope: Uint8Array): Promise<void> {
    const recipients =
      m.recipientId !== null
        ? [m.recipientId]
        : (await this.presence.membersOf(m.chatId)).filter((x) => x.sinceMessage < m.id).map((x) => x.accountId);
    // Encoded once per message and wire form.
    let frames: ReturnType<typeof msgFrameEncoder> | undefined;
    for (const accountId of recipients) {
      const conns = this.presence.connectionsOf(accountId);
      if (!conns || conns.size === 0) continue;
      for (const c of conns) {
        const device = c.deviceId ?? 1;
        if (accountId === m.senderId && device === m.senderDevice) continue;
        if (m.recipientId !== null && device !== 1) continue;
        if (device !== 1) {
          const since = await this.presence.mailboxSince(accountId, device);
          if (since === undefined || since >= m.id) continue;
        }
        frames ??= msgFrameEncoder(await this.fieldsOf(m, envelope));
        c.push(frames(c.compact), "msg");
      }
    }
  }

  /** Per-device copies: each to the connections of its own device, and to nothing else (§17.8). */
  private async pushCopies(m: CommittedMessage, copies: NonNullable<CommittedMessage["copies"]>): Promise<void> {
    const members = await this.presence.membersOf(m.chatId);
    for (const copy of copies) {
      const conns = this.presence.connectionsOf(copy.accountId);
      if (!conns || conns.size === 0) continue;
      // A member removed since the send no longer gets it (sync neither).
      if (!members.some((x) => x.accountId === copy.accountId)) continue;
      let frames: ReturnType<typeof msgFrameEncoder> | undefined;
      for (const c of conns) {
        if ((c.deviceId ?? 1) !== copy.deviceId) continue;
        frames ??= msgFrameEncoder(await this.fieldsOf(m, copy.envelope));
        c.push(frames(c.compact), "msg");
      }
    }
  }

  private pushEvent(ev: ChatEvent): void {
    const frame = encodeMessageFrame({
      t: "chat_event",
      chat: ev.chat,
      event: ev.event,
      by: ev.by,
      ...(ev.user !== undefined ? { user: ev.user } : {}),
    });
    for (const accountId of ev.audience)
      for (const c of this.presence.connectionsOf(accountId) ?? []) c.push(frame, "chat_event");
  }

  /** Runs `push` after every push queued before it; resolves (or rejects) with it. */
  private inOrder(push: () => Promise<void>): Promise<void> {
    const run = this.pushing.then(push);
    this.pushing = run.catch(() => undefined);
    return run;
  }

  private async onRemoteMessages(payload: string): Promise<void> {
    try {
      const { r, ids } = JSON.parse(payload) as { r: string; ids: number[] };
      if (r === this.relayId || !Array.isArray(ids)) return;
      // Read at once, push in the order the announcements arrived.
      const rows = this.store.messagesByIds(ids);
      rows.catch(() => undefined);
      await this.inOrder(async () => this.pushLocal(await rows));
    } catch (e) {
      this.log.warn({ err: String(e) }, "could not deliver messages announced by another relay");
    }
  }

  private onRemoteEvent(payload: string): void {
    try {
      const ev = JSON.parse(payload) as ChatEvent & { r: string };
      if (ev.r === this.relayId) return;
      this.presence.invalidateChat(ev.chat);
      this.pushEvent(ev);
    } catch (e) {
      this.log.warn({ err: String(e) }, "could not handle a chat event from another relay");
    }
  }
}
