/** `smsg export` / `smsg import` (client/profile/export.ts). */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { Reader, utf8 } from "../../../crypto/bytes.js";
import { argon2id, xchachaDecrypt } from "../../../crypto/primitives.js";
import { seededRng } from "../../../crypto/rng.js";
import { createKeystore, unlockKeystore } from "../../../client/profile/keystore.js";
import {
  EXPORT_HEADER_BYTES,
  EXPORT_MAGIC,
  decodeExport,
  decodePayload,
  encodeExport,
  encodePayload,
  exportProfile,
  importProfile,
} from "../../../client/profile/export.js";
import { ProfileExistsError, ProfileNotFoundError, WrongPassphraseError } from "../../../client/profile/errors.js";
import { ClientStore } from "../../../client/store/index.js";
import { CodecError, UsageError } from "../../../src/errors.js";
import { fakeIdentity, profileBytes, tempDir } from "../store/helpers.js";

const FAST = { t: 1, memKiB: 8 };
const rng = () => seededRng(utf8("export test rng seed"));

/** A profile with a passphrase-protected key and some of everything; the store is left open when `keepOpen`. */
function makeProfile(dir: string, keepOpen = false): ClientStore | undefined {
  const key = createKeystore(dir, rng(), "profile pass", { params: FAST });
  const store = ClientStore.open(dir, key);
  store.account.set({
    relayHost: "relay.example",
    relayPort: 7443,
    relayKey: new Uint8Array(32).fill(1),
    username: "alice",
    displayName: "Alice",
    credential: new Uint8Array(32).fill(2),
    signingSeed: new Uint8Array(32).fill(3),
    dhPrivate: new Uint8Array(32).fill(4),
  });
  store.contacts.pin("bob", fakeIdentity(1));
  store.sessions.put("bob", new Uint8Array(32), utf8("session"));
  store.chats.upsert({ id: 9, kind: "group", name: "Secret plans", myRole: "admin" });
  for (let i = 0; i < 30; i++) {
    store.messages.insert({
      chatId: 9,
      relayMsgId: i + 1,
      sender: "bob",
      sentAt: i,
      body: `message ${i}`,
      direction: "in",
      status: "delivered",
    });
  }
  if (keepOpen) return store;
  store.close();
  return undefined;
}

function readAll(dir: string, pass = "profile pass") {
  const key = unlockKeystore(dir, pass);
  const store = ClientStore.open(dir, key);
  try {
    return {
      account: store.account.get(),
      contacts: store.contacts.list(),
      session: store.sessions.current("bob"),
      chats: store.chats.list(),
      history: store.messages.history(9, { limit: 100 }).messages.map((m) => ({ ...m, storedAt: 0 })),
    };
  } finally {
    store.close();
  }
}

describe("export file format", () => {
  test("magic || salt || t || memKiB || nonce || AEAD(payload, ad = header), decoded independently", () => {
    const entries = [
      { name: "key.json", data: utf8("{}") },
      { name: "store.sqlite", data: new Uint8Array([1, 2, 3]) },
    ];
    const file = encodeExport(entries, "pw", rng(), FAST);
    const r = new Reader(file, "test");
    expect(new TextDecoder().decode(r.bytes(8))).toBe(EXPORT_MAGIC);
    const salt = r.bytes(16);
    expect([r.u32(), r.u32()]).toEqual([1, 8]);
    const nonce = r.bytes(24);
    const key = argon2id(utf8("pw"), salt, FAST, 32);
    const payload = xchachaDecrypt(key, nonce, r.rest(), file.subarray(0, EXPORT_HEADER_BYTES));
    expect(payload).toEqual(encodePayload(entries));
    expect(decodePayload(payload)).toEqual(entries);
    expect(decodeExport(file, "pw")).toEqual(entries);
  });

  test("wrong passphrase or any damaged byte: WRONG_PASSPHRASE; not an export: CodecError", () => {
    const file = encodeExport(
      [
        { name: "key.json", data: utf8("{}") },
        { name: "store.sqlite", data: new Uint8Array(10) },
      ],
      "pw",
      rng(),
      FAST,
    );
    expect(() => decodeExport(file, "pW")).toThrow(WrongPassphraseError);
    for (const i of [8, 30, 40, 60, file.length - 1]) {
      const bad = file.slice();
      bad[i]! ^= 0x10;
      expect(() => decodeExport(bad, "pw"), `byte ${i}`).toThrow(WrongPassphraseError);
    }
    const badMagic = file.slice();
    badMagic[0] = 0x58;
    expect(() => decodeExport(badMagic, "pw")).toThrow(CodecError);
    expect(() => decodeExport(file.subarray(0, 40), "pw")).toThrow(CodecError);
    const hugeCost = file.slice();
    hugeCost.set([0xff, 0xff, 0xff, 0xff], 8 + 16 + 4);
    expect(() => decodeExport(hugeCost, "pw")).toThrow(CodecError);
  });

  test("payload container: unknown, repeated or missing files and trailing bytes are refused", () => {
    const k = { name: "key.json", data: utf8("{}") };
    const s = { name: "store.sqlite", data: new Uint8Array(1) };
    expect(() => decodePayload(encodePayload([k]))).toThrow(CodecError);
    expect(() => decodePayload(encodePayload([k, s, k]))).toThrow(CodecError);
    expect(() => decodePayload(encodePayload([k, s, { name: "../evil", data: new Uint8Array(1) }]))).toThrow(
      CodecError,
    );
    const p = encodePayload([k, s]);
    expect(() => decodePayload(new Uint8Array([...p, 0]))).toThrow(CodecError);
    expect(() => decodePayload(p.subarray(0, p.length - 1))).toThrow(CodecError);
  });
});

describe("export and import", () => {
  test("export -> import into another folder -> the same data, same profile passphrase", () => {
    const src = tempDir();
    makeProfile(src);
    const out = join(tempDir(), "alice.smsgexp");
    const steps: string[] = [];
    exportProfile(src, out, "export pass", rng(), { params: FAST, onStep: (i, n) => steps.push(`export ${i}/${n}`) });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out).includes(Buffer.from("relay.example"))).toBe(false);

    const dest = join(tempDir(), "new-machine", "profiles", "default");
    importProfile(out, dest, "export pass", { onStep: (i, n) => steps.push(`import ${i}/${n}`) });
    expect(steps).toEqual([
      "export 1/3",
      "export 2/3",
      "export 3/3",
      "import 1/4",
      "import 2/4",
      "import 3/4",
      "import 4/4",
    ]);
    expect(statSync(dest).mode & 0o777).toBe(0o700);
    expect(statSync(join(dest, "key.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dest, "store.sqlite")).mode & 0o777).toBe(0o600);
    expect(() => unlockKeystore(dest, "export pass")).toThrow(WrongPassphraseError);
    const a = readAll(src);
    const b = readAll(dest);
    expect(b).toEqual(a);
    expect(b.history).toHaveLength(30);
    expect(b.chats[0]!.name).toBe("Secret plans");
    // No temporary folders left next to the destination.
    expect(readdirSync(join(dest, ".."))).toEqual(["default"]);
  });

  test("exporting while the store is open includes what is committed but still only in the WAL", () => {
    const src = tempDir();
    const open = makeProfile(src, true)!;
    open.messages.insert({
      chatId: 9,
      relayMsgId: 100,
      sender: "bob",
      sentAt: 1,
      body: "late",
      direction: "in",
      status: "delivered",
    });
    const out = join(tempDir(), "x.smsgexp");
    exportProfile(src, out, "export pass", rng(), { params: FAST });
    open.close();
    const dest = join(tempDir(), "p");
    importProfile(out, dest, "export pass");
    expect(readAll(dest).history.at(-1)!.body).toBe("late");
  });

  test("import with a wrong passphrase is refused and writes nothing", () => {
    const src = tempDir();
    makeProfile(src);
    const out = join(tempDir(), "x.smsgexp");
    exportProfile(src, out, "export pass", rng(), { params: FAST });
    const parent = tempDir();
    const dest = join(parent, "p");
    expect(() => importProfile(out, dest, "wrong")).toThrow(WrongPassphraseError);
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  test("import refuses to overwrite an existing profile unless asked; with overwrite, replaces it", () => {
    const src = tempDir();
    makeProfile(src);
    const out = join(tempDir(), "x.smsgexp");
    exportProfile(src, out, "export pass", rng(), { params: FAST });

    const dest = tempDir();
    const other = createKeystore(dest, seededRng(utf8("another profile's rng")));
    ClientStore.open(dest, other).close();
    const before = profileBytes(dest);
    expect(() => importProfile(out, dest, "export pass")).toThrow(ProfileExistsError);
    expect(profileBytes(dest).equals(before)).toBe(true);

    importProfile(out, dest, "export pass", { overwrite: true });
    expect(readAll(dest)).toEqual(readAll(src));
    expect(readdirSync(join(dest, "..")).filter((f) => f.includes("import") || f.includes("replaced"))).toEqual([]);
  });

  test("import into an empty existing folder works; a folder with other files is never replaced", () => {
    const src = tempDir();
    makeProfile(src);
    const out = join(tempDir(), "x.smsgexp");
    exportProfile(src, out, "export pass", rng(), { params: FAST });
    const empty = tempDir();
    importProfile(out, empty, "export pass");
    expect(readAll(empty).account!.username).toBe("alice");

    const home = tempDir();
    writeFileSync(join(home, "notes.txt"), "mine");
    expect(() => importProfile(out, home, "export pass", { overwrite: true })).toThrow(UsageError);
    expect(readFileSync(join(home, "notes.txt"), "utf8")).toBe("mine");
  });

  test("export refuses to overwrite its output unless asked; a missing profile is PROFILE_NOT_FOUND", () => {
    const src = tempDir();
    makeProfile(src);
    const out = join(tempDir(), "x.smsgexp");
    writeFileSync(out, "precious");
    expect(() => exportProfile(src, out, "p", rng(), { params: FAST })).toThrow(UsageError);
    expect(readFileSync(out, "utf8")).toBe("precious");
    exportProfile(src, out, "p", rng(), { params: FAST, overwrite: true });
    expect(decodeExport(new Uint8Array(readFileSync(out)), "p")).toHaveLength(2);

    const empty = tempDir();
    expect(() => exportProfile(empty, join(empty, "o"), "p", rng(), { params: FAST })).toThrow(ProfileNotFoundError);
    createKeystore(empty, rng());
    expect(() => exportProfile(empty, join(empty, "o"), "p", rng(), { params: FAST })).toThrow(ProfileNotFoundError);
  });

  test("a damaged database inside a well-encrypted export is refused and leaves nothing behind", () => {
    const file = encodeExport(
      [
        { name: "key.json", data: utf8(JSON.stringify({ version: 1, protection: "none", key: "00".repeat(32) })) },
        {
          name: "store.sqlite",
          data: utf8("this is not a database, just bytes long enough to look like one".repeat(100)),
        },
      ],
      "pw",
      rng(),
      FAST,
    );
    const out = join(tempDir(), "bad.smsgexp");
    writeFileSync(out, file);
    const parent = tempDir();
    expect(() => importProfile(out, join(parent, "p"), "pw")).toThrow(CodecError);
    expect(readdirSync(parent)).toEqual([]);
  });
});
