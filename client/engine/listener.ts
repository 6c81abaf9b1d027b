/**
 * `smsg listen`: stay connected and report what arrives. Goes online (online.ts: login, prekeys,
 * outbox, sync), then processes pushes as they come; once pushes pause (at most 2 s after the
 * first, MAX_SYNC_DELAY_MS) it syncs, which moves
 * the delivery cursors over them (sync.ts; the reply carries `held` stubs for what the pushes
 * stored, not their envelopes again: SECURITY.md §14.7 "Held messages"). Refills prekeys when the relay says they run low.
 * When the connection drops it reconnects with exponential backoff, and does the whole round
 * again (the outbox is resent with the same idems, the sync fetches what was missed).
 *
 * What messages raise is reported from the profile's event journal (client/store/
 * event-journal.ts), read past a mark after every frame, not from the frame's own processing:
 * a one-shot command running on the same profile may fetch and store a message first, and the
 * listener, which gets the same frame pushed, then finds it stored. Every message is so
 * reported once, whichever process stored it. Chat events come straight from the connection.
 *
 * The passphrase backup (SECURITY.md §18.6 "Update") is refreshed after each connection's
 * first sync, then at most every `backupRefreshMs` and only when the store changed since the
 * last look (backup-refresh.ts: an unchanged snapshot sends nothing), and once more when
 * listening stops, so what an `smsg open` session changed is in the backup without waiting.
 */
import { SmsgError } from "../../src/errors.js";
import type { RelayMessageOf } from "../../src/wire/messages.js";
import { RelayUnreachableError } from "./errors.js";
import type { EngineEvent, EventSink } from "./events.js";
import { BACKUP_REFRESH_INTERVAL_MS } from "./backup-refresh.js";
import { goOnline } from "./online.js";
import type { Account } from "./open-account.js";
import { maintainPrekeys } from "./prekeys.js";

/** The longest a pushed message waits for the sync that acks it while pushes keep coming. */
export const MAX_SYNC_DELAY_MS = 2_000;

/** How the listener's connection stands. */
export type ListenStatus =
  | { readonly state: "listening" }
  | { readonly state: "disconnected"; readonly reason: string; readonly retryInMs: number };

/** A text written earlier (offline, or by a command that could not finish) that the listener's outbox flush delivered. */
export interface DeliveredText {
  readonly chat: number;
  /** Local message id. */
  readonly id: number;
  readonly relayMsg: number;
  /** The relay's time of it. */
  readonly ts: number;
  readonly seq: number;
  /** The relay had it already (an earlier attempt got through without its answer). */
  readonly duplicate: boolean;
}

/** Options of listen. */
export interface ListenOptions {
  readonly onEvent: EventSink;
  /**
   * The acknowledgement of each text written before this (re)connection that its outbox flush
   * sent (one written meanwhile is told of by whoever is sending it).
   */
  readonly onSent?: (sent: DeliveredText) => void;
  readonly onStatus?: (status: ListenStatus) => void;
  /** Something failed that does not stop listening. */
  readonly onWarning?: (err: unknown) => void;
  /** Stops listening (the promise then resolves). */
  readonly signal?: AbortSignal;
  /** Sync once pushes have paused this long (default 300 ms; at most MAX_SYNC_DELAY_MS after the first), so a burst is acked once. */
  readonly syncDelayMs?: number;
  /** First reconnection delay (default 500 ms); doubles up to maxBackoffMs. */
  readonly minBackoffMs?: number;
  /** Longest reconnection delay (default 30 s). */
  readonly maxBackoffMs?: number;
  /** How often, at most, to look for a changed state to refresh the passphrase backup with (default 60 s). */
  readonly backupRefreshMs?: number;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Listens until `opts.signal` aborts (see the file comment). Rejects only for what reconnecting
 * cannot fix: LoginFailedError, a disabled account, RelayKeyMismatchError (whoever answers does
 * not hold the pinned relay key: retrying would only keep knocking on an impersonator's door,
 * SECURITY.md §10.3), a damaged store.
 */
export async function listen(acct: Account, opts: ListenOptions): Promise<void> {
  const { signal } = opts;
  let mark = acct.store.journal.lastId();
  const report = (): void => {
    try {
      for (let more = true; more;) {
        const entries = acct.store.journal.after(mark);
        for (const e of entries) {
          // A hole: entries pruned before we read them (we were suspended for more than a day).
          if (e.id > mark + 1 && mark > 0)
            opts.onWarning?.(
              new SmsgError(
                "EVENTS_DROPPED",
                `${e.id - mark - 1} events older than a day were not reported: smsg history shows the messages`,
              ),
            );
          mark = e.id;
          if (e.json === undefined)
            opts.onWarning?.(
              new SmsgError(
                "EVENT_DAMAGED",
                `event ${e.id} of the profile's journal does not open: smsg history shows the messages`,
              ),
            );
          else opts.onEvent(JSON.parse(e.json) as EngineEvent);
        }
        more = entries.length > 0;
      }
    } catch (e) {
      opts.onWarning?.(e);
    }
  };
  const minBackoff = opts.minBackoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  let backoff = minBackoff;
  while (!signal?.aborted) {
    let online;
    // Texts written from now on are being sent by whoever wrote them (`smsg open` sends on its own
    // connection, a one-shot `smsg send` in its process), which tells of them itself; this flush
    // may deliver them too (the relay stores one), but only what was written before is ours to tell.
    const connectingAt = acct.now();
    try {
      online = await goOnline(acct, {
        onEvent: (e) => {
          if (e.type === "chat_event") opts.onEvent(e);
        },
        onFrame: report,
        ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
      });
    } catch (e) {
      if (!(e instanceof RelayUnreachableError)) throw e;
      opts.onStatus?.({ state: "disconnected", reason: e.message, retryInMs: backoff });
      await sleep(backoff, signal);
      backoff = Math.min(maxBackoff, backoff * 2);
      continue;
    }
    backoff = minBackoff;
    report(); // what others stored while we were connecting
    for (const s of online.flushed.sent) {
      const m = s.messageId === null ? undefined : acct.store.messages.get(s.messageId);
      if (m === undefined || m.body === null || m.senderSeq === null) continue; // a key or name hand-over, not a text
      if (m.storedAt > connectingAt) continue; // its writer tells of it (above)
      opts.onSent?.({
        chat: s.chat,
        id: m.id,
        relayMsg: s.relayMsg,
        ts: s.ts,
        seq: m.senderSeq,
        duplicate: s.duplicate,
      });
    }
    for (const f of online.flushed.failed)
      opts.onWarning?.(new Error(`message #${f.messageId ?? "?"} in chat ${f.chat} was refused: ${f.reason}`));
    opts.onStatus?.({ state: "listening" });
    const { relay, receiver } = online;

    // Every push is followed by a sync that starts after it came (so the round acks it, or names
    // it in `have`), once pushes have paused for syncDelayMs, and at most MAX_SYNC_DELAY_MS after the
    // first push it waits for: a burst is synced once, after its end, rather than by rounds that
    // overlap it (a message committed while a round's reply is read comes in it in full as well
    // as pushed: a second copy), and a steady stream is still acked every MAX_SYNC_DELAY_MS.
    const syncDelay = opts.syncDelayMs ?? 300;
    const maxSyncDelay = Math.max(syncDelay, MAX_SYNC_DELAY_MS);
    let timer: NodeJS.Timeout | undefined;
    let firstWaiting: number | undefined;
    const syncSoon = () => {
      // Monotonic: a wall clock stepped back must not push the MAX_SYNC_DELAY_MS cap away.
      const now = performance.now();
      firstWaiting ??= now;
      if (timer) clearTimeout(timer);
      timer = setTimeout(
        () => {
          timer = undefined;
          firstWaiting = undefined;
          receiver.syncAll().catch((e: unknown) => {
            if (!relay.isClosed) opts.onWarning?.(e);
          });
        },
        Math.max(0, Math.min(syncDelay, firstWaiting + maxSyncDelay - now)),
      );
    };
    const onLow = (m: RelayMessageOf<"prekeys_low">) => {
      maintainPrekeys(acct, relay, m.stock).catch((e: unknown) => {
        if (!relay.isClosed) opts.onWarning?.(e);
      });
    };
    // Only pushes: a sync reply's own frames (`reply`) are what the round already acks.
    const onMsg = (m: RelayMessageOf<"msg">) => {
      if (m.reply !== true) syncSoon();
    };
    relay.on("msg", onMsg);
    relay.on("prekeys_low", onLow);
    void online.backup.refresh();
    const backupTimer = setInterval(
      () => void online.backup.refreshIfChanged(),
      opts.backupRefreshMs ?? BACKUP_REFRESH_INTERVAL_MS,
    );
    const reason = await new Promise<string | undefined>((resolve) => {
      // An abort while goOnline was still connecting fired before this listener existed.
      if (signal?.aborted) return resolve(undefined);
      if (relay.isClosed) return resolve("the connection closed");
      const onAbort = () => resolve(undefined);
      signal?.addEventListener("abort", onAbort, { once: true });
      relay.once("close", (err) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(err?.message ?? "the relay closed the connection");
      });
    });
    if (timer) clearTimeout(timer);
    clearInterval(backupTimer);
    relay.off("msg", onMsg);
    relay.off("prekeys_low", onLow);
    await receiver.drain();
    // Stopping (the connection is still open): what changed since the last look goes now.
    await online.backup.refreshIfChanged();
    online.close();
    if (reason === undefined) break;
    opts.onStatus?.({ state: "disconnected", reason, retryInMs: backoff });
    await sleep(backoff, signal);
    backoff = Math.min(maxBackoff, backoff * 2);
  }
}
