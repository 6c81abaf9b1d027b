/**
 * The relay keeps no plaintext (docs/ARCHITECTURE.md, Relay storage): clients run the real end to
 * end protocol through a relay (X3DH and the Double Ratchet from crypto/session.ts, sender keys
 * from crypto/sender-keys.ts), with a distinctive marker in every plaintext; afterwards no
 * bytea or text column of any table holds the marker, as UTF-8 or as hex text. A positive
 * control (the ciphertext envelope is found) shows the search itself works.
 * Runs on the embedded PostgreSQL, and on external PostgreSQL when TEST_DATABASE_URL is set.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { bytesEqual, toHex, utf8 } from "../../crypto/bytes.js";
import { decodeIdentityPublic, encodeIdentityPublic } from "../../crypto/identity.js";
import { pad, unpad } from "../../crypto/padding.js";
import type { PrekeyBundle } from "../../crypto/prekeys.js";
import {
  type SenderKeyContext,
  createSenderKey,
  distributionMessage,
  parseDistribution,
  senderDecrypt,
  senderEncrypt,
} from "../../crypto/sender-keys.js";
import {
  ENVELOPE_MESSAGE,
  ENVELOPE_PREKEY,
  type PrekeyStore,
  type SessionState,
  acceptSession,
  initiateSession,
  parseEnvelope,
  sessionDecrypt,
  sessionEncrypt,
} from "../../crypto/session.js";
import type { Db } from "../../relay/store/index.js";
import { systemRng } from "../../src/system-rng.js";
import type { RelayMessageOf } from "../../src/wire/index.js";
import { type TestRelay, startRelay } from "./harness.js";
import type { Msg } from "./inbox.js";
import { type Person, group, openDirect, person as join, reconnect, send, syncPage } from "./people.js";
import { explainSkip, relayStorages } from "./storages.js";
import { searchAllTablesFor } from "./store/harness.js";

explainSkip("No plaintext at the relay");

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A marker no protocol field could contain by chance. */
function marker(what: string): string {
  return `SMSG-PLAINTEXT-MARKER-${what}-${randomBytes(8).toString("hex")}`;
}

/** The crypto bundle of a `bundle` reply. */
function bundleOf(reply: RelayMessageOf<"bundle">): PrekeyBundle {
  return {
    identity: decodeIdentityPublic(reply.identity),
    signedPrekey: {
      id: reply.signed_prekey.key_id,
      publicKey: reply.signed_prekey.public_key,
      signature: reply.signed_prekey.signature,
    },
    ...(reply.one_time_prekey
      ? { oneTimePrekey: { id: reply.one_time_prekey.key_id, publicKey: reply.one_time_prekey.public_key } }
      : {}),
  };
}

/** First messages each user accepted: "username:spk id:hex(base key)" (PrekeyStore.acceptedBefore). */
const accepted = new Set<string>();

/** The private prekeys `p` published at join, looked up by id, and the first messages it accepted. */
function prekeysOf(p: Person): PrekeyStore {
  return {
    signedPrekey: (id) => (id === p.spk.id ? p.spk : undefined),
    oneTimePrekey: (id) => p.opks.find((k) => k.id === id),
    acceptedBefore: (spkId, baseKey) => accepted.has(`${p.username}:${spkId}:${toHex(baseKey)}`),
  };
}

/** Every "table.column" holding `text`, as UTF-8 bytes and as lowercase and uppercase hex text. */
async function storedAnywhere(db: Db, text: string): Promise<string[]> {
  const bytes = utf8(text);
  return [
    ...(await searchAllTablesFor(db, bytes)),
    ...(await searchAllTablesFor(db, utf8(toHex(bytes)))),
    ...(await searchAllTablesFor(db, utf8(toHex(bytes).toUpperCase()))),
  ];
}

for (const storage of relayStorages()) {
  describe.skipIf(storage.skip)(`no plaintext at the relay on ${storage.name}`, () => {
    let r: TestRelay;
    let db: Db;
    const people: Person[] = [];

    async function person(name: string): Promise<Person> {
      const p = await join(r, name);
      people.push(p);
      return p;
    }

    /** `from` starts a session with `to` from a fetched bundle (X3DH, SECURITY.md §5). */
    async function initiate(from: Person, to: Person): Promise<SessionState> {
      const reply = await from.client.request<"fetch_bundle">({ t: "fetch_bundle", username: to.username });
      const bundle = bundleOf(reply);
      expect(bundle.oneTimePrekey).toBeDefined();
      return initiateSession(systemRng, from.identity, bundle).session;
    }

    /**
     * `to` accepts a first (PREKEY) message from `from`: checks the sender's identity against the relay's,
     * returns session and plaintext.
     */
    async function accept(to: Person, from: Person, m: Msg) {
      const env = parseEnvelope(m.envelope);
      expect(env.type).toBe("prekey");
      const published = await to.client.request<"lookup_user">({ t: "lookup_user", username: from.username });
      if (env.type !== "prekey") throw new Error("not a first message");
      expect(bytesEqual(encodeIdentityPublic(env.identity), published.identity)).toBe(true);
      const result = acceptSession(systemRng, to.identity, prekeysOf(to), env);
      accepted.add(`${to.username}:${result.signedPrekeyId}:${toHex(result.baseKey)}`);
      return { session: result.session, plaintext: result.plaintext };
    }

    beforeAll(() => storage.open());
    afterAll(() => storage.close());
    afterEach(async () => {
      for (const p of people.splice(0)) p.client.close();
      await r.stop();
    });

    test("a 1:1 exchange (PREKEY message, reply, follow-up) leaves no plaintext in any table", async () => {
      db = await storage.fresh();
      r = await startRelay({ db });
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await openDirect(alice, bob);
      const [first, reply, followUp] = [marker("first"), marker("reply"), marker("follow-up")];

      // Alice → Bob: the first message, a PREKEY envelope (X3DH inputs + ratchet message).
      let aliceSession = await initiate(alice, bob);
      const e1 = sessionEncrypt(aliceSession, alice.identity.publicKey, utf8(`hello bob, ${first}`));
      aliceSession = e1.session;
      expect(e1.envelope[0]).toBe(ENVELOPE_PREKEY);
      const s1 = await send(alice, chat, e1.envelope);
      const m1 = await bob.inbox.message(s1.msg);
      expect(bytesEqual(m1.envelope, e1.envelope)).toBe(true);
      const accepted = await accept(bob, alice, m1);
      let bobSession = accepted.session;
      expect(decoder.decode(accepted.plaintext)).toBe(`hello bob, ${first}`);

      // Bob → Alice: the reply, a plain MESSAGE envelope on the new session.
      const e2 = sessionEncrypt(bobSession, bob.identity.publicKey, utf8(`hi alice, ${reply}`));
      bobSession = e2.session;
      expect(e2.envelope[0]).toBe(ENVELOPE_MESSAGE);
      const s2 = await send(bob, chat, e2.envelope);
      const m2 = await alice.inbox.message(s2.msg);
      const d2 = sessionDecrypt(systemRng, aliceSession, parseEnvelope(m2.envelope));
      aliceSession = d2.session;
      expect(decoder.decode(d2.plaintext)).toBe(`hi alice, ${reply}`);

      // Alice has heard back: her next message is a MESSAGE envelope. Bob is offline and syncs it.
      bob.client.close();
      const e3 = sessionEncrypt(aliceSession, alice.identity.publicKey, utf8(followUp));
      expect(e3.envelope[0]).toBe(ENVELOPE_MESSAGE);
      const s3 = await send(alice, chat, e3.envelope);
      const page = await syncPage(await reconnect(r, bob));
      expect(page.ids).toEqual([s1.msg, s3.msg]); // nothing acked yet: the first comes again
      const d3 = sessionDecrypt(systemRng, bobSession, parseEnvelope(page.msgs[1]!.envelope));
      expect(decoder.decode(d3.plaintext)).toBe(followUp);

      // The ciphertexts are stored (the search finds them)…
      expect(await searchAllTablesFor(db, e1.envelope)).toEqual(["messages.envelope"]);
      expect(await searchAllTablesFor(db, e3.envelope.subarray(1))).toEqual(["messages.envelope"]);
      // …the plaintexts nowhere.
      for (const text of [first, reply, followUp]) expect(await storedAnywhere(db, text)).toEqual([]);
    });

    test("a sender-key distribution over the pairwise sessions and a group message leave no plaintext or group key", async () => {
      db = await storage.fresh();
      r = await startRelay({ db });
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      const chat = await group(alice, [bob, carol]);
      const context: SenderKeyContext = { groupId: utf8(String(chat)), senderId: "alice" };
      const secret = marker("group");
      carol.client.close(); // carol gets everything by sync

      // Alice's sender key, handed to each member as the first message of a pairwise session,
      // directed to that member in the group chat.
      const own = createSenderKey(systemRng);
      const distribution = distributionMessage(own);
      const handOver = new Map<string, number>();
      for (const member of [bob, carol]) {
        const session = await initiate(alice, member);
        const e = sessionEncrypt(session, alice.identity.publicKey, distribution);
        expect(e.envelope[0]).toBe(ENVELOPE_PREKEY);
        handOver.set(member.username, (await send(alice, chat, e.envelope, { to: member.username })).msg);
      }
      // One group message, one ciphertext for everyone.
      const g = senderEncrypt(own, context, pad(utf8(`to the group: ${secret}`)));
      const sg = await send(alice, chat, g.message);

      // Bob online: the hand-over meant for him (not carol's), then the group message.
      await bob.inbox.message(sg.msg);
      expect(bob.inbox.ids).toEqual([handOver.get("bob"), sg.msg]);
      // Carol by sync: the same, in order.
      const carolPage = await syncPage(await reconnect(r, carol));
      expect(carolPage.ids).toEqual([handOver.get("carol"), sg.msg]);

      for (const [member, msgs] of [
        [bob, bob.inbox.msgs],
        [carol, carolPage.msgs],
      ] as const) {
        const { plaintext: dist } = await accept(member, alice, msgs[0]!);
        expect(bytesEqual(dist, distribution)).toBe(true);
        const receiver = parseDistribution(dist);
        const dec = senderDecrypt(receiver, context, msgs[1]!.envelope);
        expect(decoder.decode(unpad(dec.plaintext))).toBe(`to the group: ${secret}`);
      }

      expect(await searchAllTablesFor(db, g.message)).toEqual(["messages.envelope"]);
      expect(await storedAnywhere(db, secret)).toEqual([]);
      // Neither the distribution message nor the chain key in it reached the relay in clear.
      expect(await searchAllTablesFor(db, distribution)).toEqual([]);
      expect(await searchAllTablesFor(db, own.chainKey)).toEqual([]);
      expect(await searchAllTablesFor(db, utf8(toHex(own.chainKey)))).toEqual([]);
    });
  });
}
