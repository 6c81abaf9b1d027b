/**
 * The engine side of the interactive mode (`smsg`, `smsg open CHAT`): incoming messages come
 * from the listener (listener.ts: its own connection, sync, reconnection with backoff), and
 * what the user does (send, open, close) goes over a second, lazily opened connection of the
 * same account (the relay pushes to every connection of an account, and acks move only through
 * the listener's sync, so the second connection's pushes are simply not listened to). Sends
 * run one at a time in the order they were typed (send.ts sendText: identity check, asked of the
 * relay once per contact and connection (peer-identity-checks.ts, SECURITY.md §1), session,
 * outbox, flush); `close` waits for them all to be acknowledged.
 */
import type { RelayClient } from "../relay-client.js";
import type { ChatRecord } from "../store/index.js";
import { RelayUnreachableError } from "./errors.js";
import type { EventSink } from "./events.js";
import { type DeliveredText, type ListenStatus, listen } from "./listener.js";
import { type Account, connectAccount } from "./open-account.js";
import type { SendResult } from "./outbox.js";
import { PeerIdentityChecks } from "./peer-identity-checks.js";
import { queueTextOffline, sendText } from "./send.js";

/** Options of InteractiveSession. */
export interface InteractiveOptions {
  readonly onEvent: EventSink;
  /** A text queued earlier that the listener delivered when it (re)connected. */
  readonly onSent?: (sent: DeliveredText) => void;
  readonly onStatus?: (status: ListenStatus) => void;
  readonly onWarning?: (err: unknown) => void;
  /** Passed on to listen (tests). */
  readonly minBackoffMs?: number;
}

/** A running interactive session of one account (see the file comment). */
export class InteractiveSession {
  private readonly stop = new AbortController();
  private readonly listening: Promise<void>;
  private relay: RelayClient | undefined;
  /** The command connection's identity answers (peer-identity-checks.ts), new with each connection. */
  private identityChecks: PeerIdentityChecks | undefined;
  private connecting: Promise<RelayClient> | undefined;
  private sends: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** Starts listening at once. */
  constructor(
    readonly acct: Account,
    opts: InteractiveOptions,
  ) {
    this.listening = listen(acct, {
      signal: this.stop.signal,
      onEvent: opts.onEvent,
      ...(opts.onSent ? { onSent: opts.onSent } : {}),
      onStatus: (st) => opts.onStatus?.(st),
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
      ...(opts.minBackoffMs !== undefined ? { minBackoffMs: opts.minBackoffMs } : {}),
    });
    // A fatal listener error (login refused, disabled account) is reported by `finished`.
    this.listening.catch(() => undefined);
  }

  /** Settles when the listener stops: resolves after close(), rejects for a fatal error. */
  get finished(): Promise<void> {
    return this.listening;
  }

  /**
   * The command connection, opened (and logged in) on first use and again after it dropped.
   * Throws RelayUnreachableError, LoginFailedError, or the relay's RemoteError.
   */
  async commandRelay(): Promise<RelayClient> {
    if (this.relay && !this.relay.isClosed) return this.relay;
    if (!this.connecting) {
      this.connecting = connectAccount(this.acct)
        .then(({ relay }) => {
          this.relay = relay;
          this.identityChecks = new PeerIdentityChecks(this.acct, relay);
          return relay;
        })
        .finally(() => {
          this.connecting = undefined;
        });
    }
    return this.connecting;
  }

  /** Runs `fn` with the command connection. */
  async withRelay<T>(fn: (relay: RelayClient) => Promise<T>): Promise<T> {
    return fn(await this.commandRelay());
  }

  /**
   * Sends `body` in `chat` after every send requested before it; resolves once the relay
   * acknowledged it. When the relay cannot be reached and a session exists, the message is
   * queued (QueuedOfflineError) and the listener sends it when it reconnects.
   */
  send(chat: ChatRecord, body: string): Promise<SendResult> {
    const run = this.sends.then(async () => {
      let relay: RelayClient;
      try {
        relay = await this.commandRelay();
      } catch (e) {
        if (e instanceof RelayUnreachableError)
          queueTextOffline(this.acct, this.acct.store.chats.get(chat.id) ?? chat, body, e);
        throw e;
      }
      return sendText(this.acct, relay, this.acct.store.chats.get(chat.id) ?? chat, body, this.identityChecks);
    });
    this.sends = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every send requested so far has settled. */
  async settled(): Promise<void> {
    for (;;) {
      const s = this.sends;
      await s;
      if (s === this.sends) return;
    }
  }

  /** Waits for pending sends, stops listening and closes both connections. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.listening.catch(() => undefined);
    this.closed = true;
    await this.settled();
    this.stop.abort();
    await this.listening.catch(() => undefined);
    await this.connecting?.catch(() => undefined);
    this.relay?.close();
  }
}
