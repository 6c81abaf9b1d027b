/**
 * Secrets at rest (client/store/sealed.ts): sealed columns never appear in clear in the
 * database files, a sealed value moved to another row or column does not open, and the
 * sealing format is what sealed.ts documents.
 */
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { concat, u32be, utf8 } from "../../../crypto/bytes.js";
import { CryptoVerificationError } from "../../../crypto/errors.js";
import { hkdfSha256, xchachaDecrypt } from "../../../crypto/primitives.js";
import { seededRng } from "../../../crypto/rng.js";
import { STORE_COLUMN_KEY_LABEL, Sealer, sealedAd } from "../../../client/store/index.js";
import { openDatabase } from "../../../client/store/sqlite.js";
import { CodecError } from "../../../src/errors.js";
import { fakeIdentity, openTestStore, profileBytes, tempDir, testKey } from "./helpers.js";

const MARK = "ZQXMARKER";
const marker = (what: string): string => `${MARK}-${what}-${"x".repeat(20)}`;
const markerBytes = (what: string, n: number): Uint8Array => {
  const b = new Uint8Array(n).fill(0x41);
  b.set(utf8(`${MARK}${what}`).subarray(0, n));
  return b;
};

describe("sealed columns at rest", () => {
  test("no marker plaintext of any sealed column is in the database files (main file and WAL)", () => {
    const dir = tempDir();
    const store = openTestStore(dir);
    store.account.set({
      relayHost: "relay.example",
      relayPort: 1,
      relayKey: new Uint8Array(32),
      username: "alice",
      displayName: marker("own display name"),
      credential: markerBytes("cred", 32),
      signingSeed: markerBytes("seed", 32),
      dhPrivate: markerBytes("dhpriv", 32),
    });
    store.prekeys.putSigned({
      id: 1,
      privateKey: markerBytes("spk", 32),
      publicKey: new Uint8Array(32),
      signature: new Uint8Array(64),
      current: true,
    });
    store.prekeys.putOneTime([{ id: 1, privateKey: markerBytes("opk", 32), publicKey: new Uint8Array(32) }]);
    store.contacts.pin("bob", fakeIdentity(1));
    store.contacts.setDisplayName("bob", marker("contact display name"));
    store.sessions.put("bob", new Uint8Array(32), utf8(marker("session state")));
    store.chats.upsert({ id: 1, kind: "group", name: marker("chat name"), myRole: "admin" });
    store.senderKeys.put({ chatId: 1, sender: "bob", keyId: 1, state: utf8(marker("sender key")), own: false });
    for (let i = 0; i < 20; i++) {
      store.messages.insert({
        chatId: 1,
        relayMsgId: i + 1,
        sender: "bob",
        sentAt: i,
        body: marker(`message body ${i}`),
        direction: "in",
        status: "delivered",
      });
    }
    // Check with the WAL still holding the writes, then after a checkpoint into the main file.
    expect(profileBytes(dir).includes(Buffer.from(MARK))).toBe(false);
    store.close();
    expect(profileBytes(dir).includes(Buffer.from(MARK))).toBe(false);
    // Sanity: a plain column is found, so the search itself works.
    expect(profileBytes(dir).includes(Buffer.from("relay.example"))).toBe(true);
    const again = openTestStore(dir);
    expect(again.messages.history(1, { limit: 1 }).messages[0]!.body).toBe(marker("message body 19"));
    expect(again.chats.get(1)!.name).toBe(marker("chat name"));
    again.close();
  });

  test("a sealed value copied to another row, column or table does not open", () => {
    const dir = tempDir();
    const store = openTestStore(dir);
    store.chats.upsert({ id: 1, kind: "group", name: "one", myRole: "admin" });
    store.chats.upsert({ id: 2, kind: "group", name: "two", myRole: "admin" });
    const a = store.messages.insert({
      chatId: 1,
      relayMsgId: 1,
      sender: "bob",
      sentAt: 1,
      body: "first",
      direction: "in",
      status: "delivered",
    });
    const b = store.messages.insert({
      chatId: 1,
      relayMsgId: 2,
      sender: "bob",
      sentAt: 2,
      body: "second",
      direction: "in",
      status: "delivered",
    });
    store.close();

    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.prepare("UPDATE messages SET body = (SELECT body FROM messages WHERE id = ?) WHERE id = ?").run(a.id, b.id);
    raw.prepare("UPDATE chats SET name = (SELECT body FROM messages WHERE id = ?) WHERE id = 2").run(a.id);
    raw.close();

    const again = openTestStore(dir);
    expect(again.messages.get(a.id)!.body).toBe("first");
    expect(() => again.messages.get(b.id)).toThrow(CryptoVerificationError);
    expect(() => again.chats.get(2)).toThrow(CryptoVerificationError);
    expect(again.chats.get(1)!.name).toBe("one");
    again.close();
  });

  test("a flipped bit in a sealed value does not open; a truncated or unknown-version one is a CodecError", () => {
    const s = new Sealer(testKey(), seededRng(utf8("sealer nonces....")));
    const sealed = s.seal("t", "c", [1, "x", new Uint8Array([1, 2])], utf8("secret"));
    expect(s.open("t", "c", [1, "x", new Uint8Array([1, 2])], sealed)).toEqual(utf8("secret"));
    for (let i = 1; i < sealed.length; i += 7) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect(() => s.open("t", "c", [1, "x", new Uint8Array([1, 2])], bad)).toThrow(CryptoVerificationError);
    }
    expect(() => s.open("t", "c", [1, "x", new Uint8Array([1, 3])], sealed)).toThrow(CryptoVerificationError);
    expect(() => s.open("t", "c", ["1", "x", new Uint8Array([1, 2])], sealed)).toThrow(CryptoVerificationError);
    expect(() => s.open("t", "d", [1, "x", new Uint8Array([1, 2])], sealed)).toThrow(CryptoVerificationError);
    expect(() => s.open("t", "c", [1, "x", new Uint8Array([1, 2])], sealed.subarray(0, 20))).toThrow(CodecError);
    const v2 = sealed.slice();
    v2[0] = 2;
    expect(() => s.open("t", "c", [1, "x", new Uint8Array([1, 2])], v2)).toThrow(CodecError);
    // Fresh nonce every time: the same plaintext seals differently.
    expect(s.seal("t", "c", [1], utf8("a"))).not.toEqual(s.seal("t", "c", [1], utf8("a")));
    s.destroy();
    expect(() => s.seal("t", "c", [1], utf8("a"))).toThrow();
  });

  test("the sealed format follows sealed.ts: u8(1) || nonce || XChaCha20-Poly1305(HKDF subkey, AD)", () => {
    const key = testKey();
    const s = new Sealer(key, seededRng(utf8("sealer nonces....")));
    const sealed = s.seal("messages", "body", [42], utf8("hi"));
    const columnKey = hkdfSha256(key, new Uint8Array(0), utf8(STORE_COLUMN_KEY_LABEL), 32);
    const lp = (b: Uint8Array) => concat(u32be(b.length), b);
    const ad = concat(
      new Uint8Array([1]),
      lp(utf8("messages")),
      lp(utf8("body")),
      new Uint8Array([1]),
      new Uint8Array([2]),
      lp(utf8("42")),
    );
    expect(sealedAd("messages", "body", [42])).toEqual(ad);
    expect(sealed[0]).toBe(1);
    expect(xchachaDecrypt(columnKey, sealed.subarray(1, 25), sealed.subarray(25), ad)).toEqual(utf8("hi"));
  });

  test("row-key encoding is unambiguous", () => {
    expect(sealedAd("ab", "c", [])).not.toEqual(sealedAd("a", "bc", []));
    expect(sealedAd("t", "c", ["ab", "c"])).not.toEqual(sealedAd("t", "c", ["a", "bc"]));
    expect(sealedAd("t", "c", [1])).not.toEqual(sealedAd("t", "c", ["1"]));
    expect(sealedAd("t", "c", [utf8("1")])).not.toEqual(sealedAd("t", "c", ["1"]));
  });

  test("property: a value opens only under exactly the table, column and row key it was sealed for", () => {
    const s = new Sealer(testKey(), seededRng(utf8("property nonces..")));
    const part = fc.oneof(fc.string({ maxLength: 8 }), fc.nat({ max: 1000 }), fc.uint8Array({ maxLength: 8 }));
    const place = fc.record({
      table: fc.string({ maxLength: 6 }),
      column: fc.string({ maxLength: 6 }),
      key: fc.array(part, { maxLength: 3 }),
    });
    fc.assert(
      fc.property(place, place, fc.uint8Array({ maxLength: 64 }), (a, b, plaintext) => {
        const sealed = s.seal(a.table, a.column, a.key, plaintext);
        expect(s.open(a.table, a.column, a.key, sealed)).toEqual(plaintext);
        const same = Buffer.from(sealedAd(a.table, a.column, a.key)).equals(
          Buffer.from(sealedAd(b.table, b.column, b.key)),
        );
        if (!same) expect(() => s.open(b.table, b.column, b.key, sealed)).toThrow(CryptoVerificationError);
      }),
      { numRuns: 200 },
    );
  });
});
