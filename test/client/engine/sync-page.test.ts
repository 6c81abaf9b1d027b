/**
 * A `sync` page stored in one transaction (client/engine/inbox.ts receivePage, sync.ts): a bad
 * envelope among good ones is stored as undecryptable and costs the others nothing; a local
 * failure of one frame keeps what came before it, and that frame and the later ones of its chat
 * come again; a failure between the store and the ack replays the page, and every message is
 * still stored and reported exactly once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { decodeSessionState } from "../../../crypto/session-codec.js";
import { openDirectChat } from "../../../client/engine/chats.js";
import { goOnline } from "../../../client/engine/online.js";
import { sendText } from "../../../client/engine/send.js";
import type { ChatRecord } from "../../../client/store/index.js";
import { type TestRelay, idem, startRelay } from "../../relay/harness.js";
import { waitForValue } from "../../helpers/wait-for.js";
import { type EngineUser, emptyRelay, engineUser, relayCursor } from "./helpers.js";
import { sendRawCopy } from "./outbox-helpers.js";

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;

beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});
beforeEach(async () => {
  alice?.close();
  bob?.close();
  await emptyRelay(tr);
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
});

async function lastRelayId(): Promise<number> {
  return (await tr.db.query<{ m: number }>("SELECT max(id)::int AS m FROM messages"))[0]!.m;
}

/** Bodies of a chat's shown history (undecryptable ones as null), oldest first. */
function bodies(u: EngineUser, chat: number): (string | null)[] {
  return u.acct.store.messages
    .history(chat, { limit: 1000 })
    .messages.filter((m) => m.body !== null || m.status === "undecryptable")
    .map((m) => m.body);
}

/** The bodies of the message events bob was given, in order. */
function shown(u: EngineUser): string[] {
  return u.events.flatMap((e) => (e.type === "message" ? [e.body] : []));
}

/** Alice sends `texts` to bob (offline), so they wait for his next sync as one page. */
async function aliceSends(texts: readonly (string | "garbage")[]): Promise<ChatRecord> {
  const a = await alice.online();
  const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
  for (const t of texts) {
    if (t === "garbage") {
      // What a hostile relay (or alice's captured account) could put in the chat: no envelope at all.
      await sendRawCopy(a.relay, chat.id, "bob", new Uint8Array(200).fill(7), idem());
    } else await sendText(alice.acct, a.relay, chat, t);
  }
  a.close();
  return chat;
}

describe("a sync page in one transaction", () => {
  test("a bad envelope inside a page is stored as undecryptable; the good ones around it are stored and acked", async () => {
    const chat = await aliceSends(["1", "2", "garbage", "3", "4"]);
    const b = await bob.online();
    b.close();
    expect(bodies(bob, chat.id)).toEqual(["1", "2", null, "3", "4"]);
    expect(shown(bob)).toEqual(["1", "2", "3", "4"]);
    expect(bob.events.filter((e) => e.type === "undecryptable")).toHaveLength(1);
    expect(bob.events.filter((e) => e.type === "gap")).toHaveLength(0);
    await waitForValue(() => relayCursor(tr, "bob", chat.id), await lastRelayId(), {
      what: "bob's cursor at the last",
    });
    // Nothing comes again.
    const again = await bob.online();
    expect(again.synced).toBe(0);
    again.close();
    expect(shown(bob)).toEqual(["1", "2", "3", "4"]);
  });

  test("a local failure of one frame keeps the frames before it; it and the later ones come again, once", async () => {
    const chat = await aliceSends(["1", "2", "3", "4", "5"]);
    // Storing "3" fails once (as a full disk would): its savepoint is rolled back, the page goes on.
    const journal = bob.acct.store.journal;
    const append = journal.append.bind(journal);
    let appends = 0;
    journal.append = (json: string) => {
      if (++appends === 3) throw Object.assign(new Error("injected storage failure"), { code: "SQLITE_IOERR" });
      return append(json);
    };
    const warnings: unknown[] = [];
    const b = await goOnline(bob.acct, {
      onEvent: (e) => bob.events.push(e),
      onWarning: (w) => warnings.push(w),
    });
    b.close();
    journal.append = append;
    expect(bodies(bob, chat.id)).toEqual(["1", "2"]);
    expect(shown(bob)).toEqual(["1", "2"]);
    // "3" failed; "4" and "5" were not stored past it (out of order), and none of the three was acked.
    expect(warnings).toHaveLength(3);
    const two = bob.acct.store.messages.history(chat.id).messages.at(-1)!.relayMsgId!;
    await waitForValue(() => relayCursor(tr, "bob", chat.id), two, { what: "bob's cursor at 2" });
    // The session state committed is the one after "2": "3"'s advance (kept in memory until the
    // commit, client/store/sessions.ts) went with its savepoint. Read as a new process would.
    bob.reopen();
    const stored = bob.acct.store.sessions.current("alice")!;
    expect(decodeSessionState(stored.state).ratchet.recvN).toBe(2);

    const again = await bob.online();
    again.close();
    expect(bodies(bob, chat.id)).toEqual(["1", "2", "3", "4", "5"]);
    expect(shown(bob)).toEqual(["1", "2", "3", "4", "5"]);
    expect(bob.events.filter((e) => e.type === "gap")).toHaveLength(0);
    await waitForValue(() => relayCursor(tr, "bob", chat.id), await lastRelayId(), {
      what: "bob's cursor at the last",
    });
  });

  test("a failure between the page's commit and its ack replays the page: stored and shown once", async () => {
    const chat = await aliceSends(["1", "2", "3"]);
    // The page is committed, then moving the local cursors fails: no ack goes out.
    const cursors = bob.acct.store.cursors;
    const set = cursors.set.bind(cursors);
    cursors.set = () => {
      throw Object.assign(new Error("injected failure before the ack"), { code: "SQLITE_IOERR" });
    };
    await expect(bob.online()).rejects.toThrow();
    cursors.set = set;
    expect(bodies(bob, chat.id)).toEqual(["1", "2", "3"]);
    expect(await relayCursor(tr, "bob", chat.id)).toBe(0);

    // Another process in effect: the relay sends the page again; nothing is stored or shown twice.
    const events = bob.events.length;
    bob.reopen();
    const b = await bob.online();
    expect(b.synced).toBe(3);
    b.close();
    expect(bodies(bob, chat.id)).toEqual(["1", "2", "3"]);
    expect(bob.events.slice(events).filter((e) => e.type === "message")).toHaveLength(0);
    expect(shown(bob)).toEqual(["1", "2", "3"]);
    await waitForValue(() => relayCursor(tr, "bob", chat.id), await lastRelayId(), {
      what: "bob's cursor at the last",
    });
  });
});
