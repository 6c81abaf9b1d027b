/**
 * Going online, the way every command that needs the relay does it: connect and log in
 * (open-account.ts), start receiving (sync.ts), top up prekeys (prekeys.ts), send what the
 * outbox holds (outbox.ts), bring our own device list in step with the relay's
 * (own-list-online.ts, SECURITY.md §17.1, §17.8: after the first flush, so that what a profile
 * made before §17 queued still goes as the `send` it was made for), fetch what is waiting
 * (`sync` until there is no more), so that `history` right after someone sent us something
 * shows it, then encrypt and send the group texts written offline (group/deferred.ts: after
 * the sync, which may change the membership).
 *
 * The connection's BackupRefresher (backup-refresh.ts, SECURITY.md §18.6 "Update") is handed
 * to the caller, which runs it once the command's own work is done (client/commands/common.ts,
 * send.ts) or now and then while listening (listener.ts), so the backup also carries what the
 * command itself changed.
 */
import type { RelayClient } from "../relay-client.js";
import type { EventSink } from "./events.js";
import { type ConnectOptions, type LoginInfo, asUnreachable, connectAccount } from "./open-account.js";
import type { Account } from "./open-account.js";
import { BackupRefresher } from "./backup-refresh.js";
import { announceDeviceList } from "./device-announce.js";
import { encryptDeferredGroupTexts } from "./group/deferred.js";
import { type FlushResult, flushOutbox } from "./outbox.js";
import { syncOwnDeviceList } from "./own-list-online.js";
import { maintainPrekeys } from "./prekeys.js";
import { Receiver } from "./sync.js";

/** An account connected to its relay. */
export interface Online {
  readonly relay: RelayClient;
  readonly receiver: Receiver;
  readonly login: LoginInfo;
  /** What flushing the outbox at connection did. */
  readonly flushed: FlushResult;
  /** Frames the first sync brought. */
  readonly synced: number;
  /** Keeps the passphrase backup current over this connection (never throws: warnings go to onWarning). */
  readonly backup: BackupRefresher;
  /** Stops receiving and closes the connection. */
  close(): void;
}

/** Options of goOnline. */
export interface GoOnlineOptions {
  readonly onEvent?: EventSink;
  /** After each received msg frame was processed (Receiver's onFrame). */
  readonly onFrame?: () => void;
  /** Something went wrong that does not stop the command (prekey upload, one frame). */
  readonly onWarning?: (err: unknown) => void;
  readonly connect?: ConnectOptions;
  /** Send the outbox (default true). */
  readonly flush?: boolean;
  /** Fetch what is waiting (default true). */
  readonly sync?: boolean;
  /** While a sync takes more than one page: the messages fetched so far, after each page. */
  readonly onSyncProgress?: (frames: number, total: number | undefined) => void;
}

/**
 * Connects, logs in and does the rest (see the file comment). Throws RelayUnreachableError,
 * LoginFailedError or the relay's RemoteError; on a failure after login the connection is
 * closed again.
 */
export async function goOnline(acct: Account, opts: GoOnlineOptions = {}): Promise<Online> {
  const { relay, login } = await connectAccount(acct, opts.connect);
  // A device that wrote to us from an older version of our own list gets our current one (§17.5).
  // The receiver reports each (chat, device, our list version) once; announcements run one after
  // the other, and what one could not send stays queued in the outbox for the next flush.
  let announcing: Promise<unknown> = Promise.resolve();
  const receiver = new Receiver(acct, relay, {
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    ...(opts.onWarning ? { onError: opts.onWarning } : {}),
    ...(opts.onFrame ? { onFrame: opts.onFrame } : {}),
    onStaleSender: () => {
      announcing = announcing.then(() => announceDeviceList(acct, relay)).catch((e: unknown) => opts.onWarning?.(e));
    },
  });
  const close = () => {
    receiver.detach();
    relay.close();
  };
  try {
    try {
      await maintainPrekeys(acct, relay, login.stock);
    } catch (e) {
      if (relay.isClosed) throw e;
      opts.onWarning?.(e);
    }
    let flushed: FlushResult = opts.flush === false ? { sent: [], failed: [] } : await flushOutbox(acct, relay);
    for (const e of flushed.events ?? []) opts.onEvent?.(e);
    try {
      for (const e of (await syncOwnDeviceList(acct, relay)).events) opts.onEvent?.(e);
    } catch (e) {
      // Going online goes on (a send fetches the lists again, and encrypts only to accepted ones).
      if (relay.isClosed) throw e;
      opts.onWarning?.(e);
    }
    let synced = 0;
    if (opts.sync === false) receiver.releasePushes();
    else synced = await receiver.syncAll(opts.onSyncProgress);
    // After the sync: a membership change waiting for us must be applied before a group text
    // written offline is encrypted (group/deferred.ts).
    if (
      opts.flush !== false &&
      opts.sync !== false &&
      (await encryptDeferredGroupTexts(acct, relay, opts.onWarning)) > 0
    ) {
      const again = await flushOutbox(acct, relay);
      for (const e of again.events ?? []) opts.onEvent?.(e);
      flushed = { sent: [...flushed.sent, ...again.sent], failed: [...flushed.failed, ...again.failed] };
    }
    const backup = new BackupRefresher(acct, relay, opts.onWarning);
    return { relay, receiver, login, flushed, synced, backup, close };
  } catch (e) {
    close();
    throw asUnreachable(acct.relayHost, acct.relayPort, e);
  }
}
