/**
 * Property (client/engine/inbox.ts receivePage; docs/ARCHITECTURE.md §4.1 "Receiving a sync
 * page"): a page with one bad frame among good ones (tampered, a replay of an earlier frame's
 * envelope, or a message further ahead than the skip limit, SECURITY.md §6.7) stores every good
 * frame, stores the bad one as undecryptable, and leaves bob's sessions exactly as the same page
 * without the bad frame does. Two copies of bob's profile, opened with the same seeded
 * randomness, get the page with and without it; their sessions must decode to the same bytes.
 * The page is stored without the relay (every frame is of a known chat from a listed device).
 */
import fc from "fast-check";
import { cpSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { seededRng } from "../../../crypto/rng.js";
import { decodeSessionState, encodeSessionState } from "../../../crypto/session-codec.js";
import { sessionEncrypt } from "../../../crypto/session.js";
import { openDirectChat } from "../../../client/engine/chats.js";
import { encryptDirect } from "../../../client/engine/fanout-send.js";
import { storedTargets } from "../../../client/engine/fanout-targets.js";
import { type FrameOutcome, receivePage } from "../../../client/engine/inbox.js";
import { type Account, closeAccount, openLocalAccount } from "../../../client/engine/open-account.js";
import { sendText } from "../../../client/engine/send.js";
import { encodeAppMessage } from "../../../client/protocol/app-message.js";
import type { RelayClient } from "../../../client/relay-client.js";
import type { RelayMessageOf } from "../../../src/wire/messages.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { tempDir } from "../store/helpers.js";
import { type EngineUser, emptyRelay, engineUser } from "./helpers.js";

type Frame = RelayMessageOf<"msg">;

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;
let chatId: number;
/** The seq of alice's last text before the page. */
let lastSeq: number;

beforeAll(async () => {
  tr = await startRelay();
  await emptyRelay(tr);
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
  // A conversation both ways, so the page's envelopes are MESSAGE ones on a chain bob has already stepped to.
  const a = await alice.online();
  const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
  chatId = chat.id;
  await sendText(alice.acct, a.relay, chat, "hello");
  a.close();
  const b = await bob.online();
  await sendText(bob.acct, b.relay, bob.acct.store.chats.get(chatId)!, "hi");
  b.close();
  const a2 = await alice.online();
  await sendText(alice.acct, a2.relay, chat, "and back");
  a2.close();
  (await bob.online()).close();
  lastSeq = 2;
  alice.close();
  bob.close();
}, 60_000);

afterAll(async () => {
  await tr.stop();
});

/** Never asked: every frame of these pages is stored without the relay. */
const noRelay = new Proxy({} as RelayClient, {
  get() {
    throw new Error("the page asked the relay");
  },
});

/** A fresh copy of `u`'s profile, opened with randomness from `seed`. */
function copyOf(u: EngineUser, seed: string): Account {
  const dir = tempDir(`smsg-page-${u.name}-`);
  cpSync(u.dir, dir, { recursive: true });
  return openLocalAccount({ dir, rng: seededRng(utf8(`page bad frame ${seed}`)) });
}

/** Alice's envelope to bob's device 1 for text `body` with sequence number `seq`, her session step stored. */
function aliceText(acct: Account, seq: number, body: string): Uint8Array {
  const app = encodeAppMessage({ v: 1, k: "text", chat: chatId, seq, ts: 1_700_000_000_000 + seq, body });
  const enc = acct.store.transaction(() => encryptDirect(acct, "bob", chatId, storedTargets(acct, "bob"), app));
  const copy = enc.copies?.find((c) => c.to === "bob" && c.device === 1);
  return copy?.envelope ?? enc.envelope!;
}

/**
 * An envelope of alice's `ahead` messages past her current position, not stored: the receiver
 * must skip more keys than §6.7 allows to reach it.
 */
function farAhead(acct: Account, ahead: number): Uint8Array {
  const rec = acct.store.sessions.current("bob", 1)!;
  let s = decodeSessionState(rec.state);
  let envelope: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < ahead; i++) {
    const out = sessionEncrypt(s, acct.identity.publicKey, utf8(`ahead ${i}`));
    s = out.session;
    envelope = out.envelope;
  }
  return envelope;
}

function frame(msg: number, envelope: Uint8Array): Frame {
  return { t: "msg", chat: chatId, msg, from: "alice", from_device: 1, ts: 1_700_000_100_000 + msg, envelope };
}

/** Every session bob holds with alice, decoded and encoded again (the sealed bytes differ by nonce). */
function sessionsOf(acct: Account): string[] {
  return acct.store.sessions
    .list("alice", 1)
    .map((r) => `${r.current} ${Buffer.from(encodeSessionState(decodeSessionState(r.state))).toString("hex")}`);
}

/** The rows the page stored (its relay ids are from 999 up; the setup's are far below): bodies, undecryptable as null. */
function rowsOf(acct: Account): (string | null)[] {
  return acct.store.messages
    .history(chatId, { limit: 1000 })
    .messages.filter((m) => (m.relayMsgId ?? 0) >= 999 && (m.body !== null || m.status === "undecryptable"))
    .map((m) => m.body);
}

async function store(acct: Account, frames: Frame[]): Promise<FrameOutcome[]> {
  const outcomes: FrameOutcome[] = [];
  await receivePage(acct, noRelay, frames, (_m, o) => outcomes.push(o));
  return outcomes;
}

type Bad = { kind: "tampered"; at: number; bit: number } | { kind: "replay"; of: number } | { kind: "far_ahead" };

describe("a page with one bad frame among good ones", () => {
  test("property: the good frames are stored, the bad one is undecryptable, the sessions are as without it", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }),
        fc.nat(),
        fc.oneof(
          fc.record({ kind: fc.constant("tampered" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
          fc.record({ kind: fc.constant("replay" as const), of: fc.nat() }),
          fc.record({ kind: fc.constant("far_ahead" as const) }),
        ),
        async (good, where, bad: Bad) => {
          run++;
          const sender = copyOf(alice, `alice ${run}`);
          const withBad = copyOf(bob, `bob ${run}`);
          const without = copyOf(bob, `bob ${run}`);
          try {
            const pos = where % (good + 1); // the bad frame goes before good frame `pos` (or last)
            const envelopes: Uint8Array[] = [];
            let badEnvelope: Uint8Array | undefined;
            for (let i = 0; i <= good; i++) {
              if (i === pos) {
                if (bad.kind === "tampered") {
                  // A genuine next message, changed in one bit on the way: the good ones after it skip its key.
                  const e = aliceText(sender, lastSeq + 1 + i, `lost ${i}`).slice();
                  e[bad.at % e.length]! ^= 1 << bad.bit;
                  badEnvelope = e;
                } else if (bad.kind === "replay" && pos > 0) badEnvelope = envelopes[bad.of % pos]!;
                else if (bad.kind === "replay")
                  badEnvelope = undefined; // nothing to replay yet: after the first instead
                else badEnvelope = farAhead(sender, 1002);
              }
              if (i < good) envelopes.push(aliceText(sender, lastSeq + 1 + i + (i >= pos ? 1 : 0), `good ${i}`));
            }
            if (badEnvelope === undefined) badEnvelope = envelopes[0]!; // a replay at the front: of frame 0, placed second
            const goodFrames = envelopes.map((e, i) => frame(1000 + 2 * i, e));
            const at = bad.kind === "replay" && pos === 0 ? 1 : pos;
            const badFrame = frame(at === 0 ? 999 : 1000 + 2 * (at - 1) + 1, badEnvelope);
            const page = [...goodFrames.slice(0, at), badFrame, ...goodFrames.slice(at)];

            const outWith = await store(withBad, page);
            const outWithout = await store(without, goodFrames);

            expect(outWith.every((o) => o.ok)).toBe(true);
            expect(outWithout.every((o) => o.ok)).toBe(true);
            const badOutcome = outWith[at]!;
            expect(badOutcome.ok && badOutcome.received.events.map((e) => e.type)).toEqual(["undecryptable"]);
            const bodies = envelopes.map((_, i) => `good ${i}`);
            expect(rowsOf(without)).toEqual(bodies);
            expect(rowsOf(withBad)).toEqual([...bodies.slice(0, at), null, ...bodies.slice(at)]);
            expect(sessionsOf(withBad)).toEqual(sessionsOf(without));
            // The events of the good frames are the same too (gaps included, from the tampered one's lost seq).
            const kinds = (os: FrameOutcome[]) => os.flatMap((o) => (o.ok ? o.received.events.map((e) => e.type) : []));
            expect(kinds(outWith).filter((k) => k !== "undecryptable")).toEqual(kinds(outWithout));
          } finally {
            closeAccount(sender);
            closeAccount(withBad);
            closeAccount(without);
          }
        },
      ),
      { numRuns: 20 },
    );
  }, 120_000);
});
