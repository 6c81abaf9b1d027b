/**
 * The outbox of schema 8 (client/store/outbox.ts, SECURITY.md §16.2, §17.5): a 1:1 message as
 * per-device copies with its application message sealed, encrypted again in place (same idem)
 * or under a new idem, and a schema-6 outbox migrated with its entries and their order.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { openDatabase } from "../../../client/store/sqlite.js";
import { SCHEMA_VERSION } from "../../../client/store/schema.js";
import { UsageError } from "../../../src/errors.js";
import { UNDO_V8, caught, openTestStore, profileBytes, tempDir } from "./helpers.js";

const idem = (c: number) => new Uint8Array(16).fill(c);

function withChat() {
  const dir = tempDir();
  const store = openTestStore(dir);
  store.chats.upsert({ id: 1, kind: "direct", peer: "bob", myRole: "member" });
  const msg = store.messages.insert({
    chatId: 1,
    sender: "me",
    sentAt: 1,
    body: "x",
    direction: "out",
    status: "pending",
  });
  return { dir, store, messageId: msg.id };
}

describe("the outbox with per-device copies", () => {
  test("a 1:1 message: copies in order, its application message sealed, replaced in one piece", () => {
    const { dir, store, messageId } = withChat();
    const app = utf8("the application message: a secret body");
    const copies = [
      { to: "bob", device: 1, envelope: utf8("to bob/1") },
      { to: "me", device: 2, envelope: utf8("to me/2") },
    ];
    store.outbox.addDirect({ idem: idem(1), chatId: 1, messageId, app, encrypted: { copies } });
    expect(store.outbox.get(idem(1))).toMatchObject({ envelope: null, copies, app, to: null, attempts: 0 });
    store.close();
    // Sealed at rest: the body appears nowhere in the profile's files.
    expect(profileBytes(dir).includes(Buffer.from("a secret body"))).toBe(false);

    const again = openTestStore(dir);
    const three = [...copies, { to: "bob", device: 3, envelope: utf8("to bob/3") }];
    expect(again.outbox.reencrypt(idem(1), { copies: three })).toBe(true);
    expect(again.outbox.get(idem(1))).toMatchObject({ copies: three, app });
    // Under a new idem (a relay before §17 refused the copies): one envelope, the app resealed.
    expect(again.outbox.reencrypt(idem(1), { envelope: utf8("bare") }, idem(2))).toBe(true);
    expect(again.outbox.get(idem(1))).toBeUndefined();
    expect(again.outbox.get(idem(2))).toMatchObject({ envelope: utf8("bare"), copies: [], app, messageId });
    expect(again.outbox.reencrypt(idem(9), { envelope: utf8("gone") })).toBe(false);
    expect(caught(() => again.outbox.reencrypt(idem(2), { copies: [] }))).toBeInstanceOf(UsageError);
    expect(again.outbox.remove(idem(2))).toBe(true);
    const raw = openDatabase(join(dir, "store.sqlite"));
    expect(raw.prepare("SELECT count(*) AS n FROM outbox_copies").get()).toEqual({ n: 0 });
    raw.close();
    again.close();
  });

  test("an application message moved to another entry fails to open", () => {
    const { dir, store, messageId } = withChat();
    store.outbox.addDirect({
      idem: idem(1),
      chatId: 1,
      messageId,
      app: utf8("one"),
      encrypted: { envelope: utf8("e1") },
    });
    store.outbox.addDirect({
      idem: idem(2),
      chatId: 1,
      messageId,
      app: utf8("two"),
      encrypted: { envelope: utf8("e2") },
    });
    store.close();
    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.prepare("UPDATE outbox SET app = (SELECT app FROM outbox WHERE idem = ?) WHERE idem = ?").run(idem(1), idem(2));
    raw.close();
    const again = openTestStore(dir);
    expect(() => again.outbox.get(idem(2))).toThrow();
    again.close();
  });

  test("a schema-7 outbox is migrated: its entries stay, in order, as one envelope each", () => {
    const { dir, store, messageId } = withChat();
    store.outbox.add({ idem: idem(5), chatId: 1, messageId, envelope: utf8("first") });
    store.outbox.add({ idem: idem(3), chatId: 1, envelope: utf8("second"), to: "bob" });
    store.close();
    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.exec(UNDO_V8);
    raw.close();
    const again = openTestStore(dir);
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(again.outbox.list().map((o) => [o.idem, o.envelope, o.to, o.app, o.copies])).toEqual([
      [idem(5), utf8("first"), null, null, []],
      [idem(3), utf8("second"), "bob", null, []],
    ]);
    again.close();
  });
});
