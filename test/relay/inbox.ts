/**
 * What a test client was pushed (msg and chat_event frames), and waits for it. Waits end as
 * soon as the condition holds; the timeout only turns a hang into a clear failure.
 *
 * To show that something was NOT pushed, the tests use a barrier instead of a delay: once a
 * frame that the relay writes after (or in the same step as) the unwanted one has arrived,
 * a request/reply round trip on the client in question (`roundTrip`) flushes its stream, so
 * anything written to it before the reply has been seen.
 */
import type { RelayClient } from "../../client/relay-client.js";
import type { RelayMessageOf } from "../../src/wire/index.js";

export type Msg = RelayMessageOf<"msg">;
export type ChatEventMsg = RelayMessageOf<"chat_event">;

export class Inbox {
  readonly msgs: Msg[] = [];
  readonly events: ChatEventMsg[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(client?: RelayClient) {
    if (client) this.attach(client);
  }

  /** Also records what `client` is pushed (e.g. after a relogin). */
  attach(client: RelayClient): this {
    client.on("msg", (m) => {
      this.msgs.push(m);
      this.wake();
    });
    client.on("chat_event", (e) => {
      this.events.push(e);
      this.wake();
    });
    return this;
  }

  /** Message ids pushed so far, in arrival order. */
  get ids(): number[] {
    return this.msgs.map((m) => m.msg);
  }

  /** Resolves once `cond()` holds; rejects with `what` after `timeoutMs`. */
  until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out waiting for ${what} (msgs: ${JSON.stringify(this.ids)}, ` +
              `events: ${JSON.stringify(this.events.map((e) => `${e.event}:${e.user ?? ""}`))})`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Waits for the message with id `msg`. */
  message(msg: number): Promise<Msg> {
    return this.until(() => this.msgs.some((m) => m.msg === msg), `message ${msg}`).then(() =>
      this.msgs.find((m) => m.msg === msg)!,
    );
  }

  /** Waits until `n` messages have arrived in total. */
  count(n: number): Promise<void> {
    return this.until(() => this.msgs.length >= n, `${n} messages`);
  }

  /** Waits for a chat_event matching `e`. */
  event(e: { chat: number; event: ChatEventMsg["event"]; user?: string; by?: string }): Promise<ChatEventMsg> {
    const match = (x: ChatEventMsg) =>
      x.chat === e.chat &&
      x.event === e.event &&
      (e.user === undefined || x.user === e.user) &&
      (e.by === undefined || x.by === e.by);
    return this.until(() => this.events.some(match), `chat_event ${JSON.stringify(e)}`).then(() =>
      this.events.find(match)!,
    );
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** A request/reply round trip: every frame the relay wrote to `client` before the reply has arrived. */
export async function roundTrip(client: RelayClient): Promise<void> {
  await client.request<"list_chats">({ t: "list_chats" });
}
