/**
 * A current session's new states kept until commit (client/store/sessions.ts, SECURITY.md §16.2):
 * inside a transaction every read sees the last state put, one sealed write goes out just before
 * COMMIT, a savepoint that rolls back leaves nothing of the states put inside it, a transaction
 * that does not commit writes none, and any other write to a session (a new one, a change of the
 * current one, a delete) sees the states kept before it.
 */
import { afterEach, describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { type Rng, seededRng } from "../../../crypto/rng.js";
import type { ClientStore } from "../../../client/store/index.js";
import { fakeIdentity, openTestStore, tempDir } from "./helpers.js";

/** Thrown to roll a transaction or savepoint back. */
class Undo extends Error {}

const opened: ClientStore[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

/** A store with bob pinned, whose RNG counts the nonces it gives (one per sealed write: sealed.ts). */
function open(dir = tempDir()): { store: ClientStore; dir: string; seals: () => number } {
  const inner = seededRng(utf8(`session-writes ${dir}`));
  let drawn = 0;
  const rng: Rng = (n) => (drawn++, inner(n));
  const store = openTestStore(dir, undefined, { rng });
  opened.push(store);
  store.contacts.pin("bob", fakeIdentity(1));
  return { store, dir, seals: () => drawn };
}

/** The stored state of bob's session `baseKey`, as a new connection (another process) reads it. */
function storedState(dir: string, baseKey: Uint8Array): string | undefined {
  const other = openTestStore(dir);
  try {
    const rec = other.sessions.get("bob", baseKey);
    return rec && new TextDecoder().decode(rec.state);
  } finally {
    other.close();
  }
}

function text(rec: { state: Uint8Array } | undefined): string | undefined {
  return rec && new TextDecoder().decode(rec.state);
}

const B1 = seededRng(utf8("session base key 1"))(32);
const B2 = seededRng(utf8("session base key 2"))(32);

describe("a current session's states kept until commit", () => {
  test("read back at once, written once, sealed, just before the commit", () => {
    const { store, dir, seals } = open();
    store.sessions.put("bob", B1, utf8("s0"));
    const before = seals();
    store.transaction(() => {
      for (const s of ["s1", "s2", "s3"]) {
        store.sessions.put("bob", B1, utf8(s));
        expect(text(store.sessions.current("bob"))).toBe(s);
        expect(text(store.sessions.get("bob", B1))).toBe(s);
        expect(store.sessions.list("bob").map(text)).toEqual([s]);
      }
      // Not written yet: another connection still reads the committed state.
      expect(storedState(dir, B1)).toBe("s0");
      expect(seals()).toBe(before);
    });
    expect(seals()).toBe(before + 1);
    expect(storedState(dir, B1)).toBe("s3");
    expect(text(store.sessions.current("bob"))).toBe("s3");
  });

  test("a savepoint that rolls back leaves the state as before it, also when it held the first put", () => {
    const { store, dir } = open();
    store.sessions.put("bob", B1, utf8("s0"));
    store.transaction(() => {
      expect(() =>
        store.transaction(() => {
          store.sessions.put("bob", B1, utf8("lost 1"));
          throw new Undo();
        }),
      ).toThrow(Undo);
      expect(text(store.sessions.current("bob"))).toBe("s0");
      store.sessions.put("bob", B1, utf8("s1"));
      expect(() =>
        store.transaction(() => {
          store.sessions.put("bob", B1, utf8("lost 2"));
          store.transaction(() => store.sessions.put("bob", B1, utf8("lost 3")));
          expect(text(store.sessions.current("bob"))).toBe("lost 3");
          throw new Undo();
        }),
      ).toThrow(Undo);
      expect(text(store.sessions.current("bob"))).toBe("s1");
    });
    expect(storedState(dir, B1)).toBe("s1");
  });

  test("a transaction that does not commit writes none", () => {
    const { store, dir, seals } = open();
    store.sessions.put("bob", B1, utf8("s0"));
    const before = seals();
    expect(() =>
      store.transaction(() => {
        store.sessions.put("bob", B1, utf8("s1"));
        store.sessions.put("bob", B1, utf8("s2"));
        throw new Undo();
      }),
    ).toThrow(Undo);
    expect(seals()).toBe(before);
    expect(text(store.sessions.current("bob"))).toBe("s0");
    expect(storedState(dir, B1)).toBe("s0");
  });

  test("a rolled-back savepoint that wrote the kept states (a new session) puts them back to be written", () => {
    const { store, dir } = open();
    store.sessions.put("bob", B1, utf8("s0"));
    store.transaction(() => {
      store.sessions.put("bob", B1, utf8("s1"));
      expect(() =>
        store.transaction(() => {
          // A new session writes the kept state first; the savepoint undoes both.
          store.sessions.put("bob", B2, utf8("other"), { makeCurrent: true });
          throw new Undo();
        }),
      ).toThrow(Undo);
      expect(store.sessions.get("bob", B2)).toBeUndefined();
      expect(text(store.sessions.current("bob"))).toBe("s1");
    });
    expect(storedState(dir, B1)).toBe("s1");
    expect(storedState(dir, B2)).toBeUndefined();
  });

  test("other writes see the kept states: a new session, a change of the current one, a delete", () => {
    const { store, dir } = open();
    store.sessions.put("bob", B1, utf8("a0"));
    store.transaction(() => {
      store.sessions.put("bob", B1, utf8("a1"));
      store.sessions.put("bob", B2, utf8("b0"));
      // B2 is not current: written at once; B1 kept; the order is by the time of the put.
      expect(store.sessions.list("bob").map(text)).toEqual(["b0", "a1"]);
      store.sessions.put("bob", B1, utf8("a2"));
      expect(store.sessions.list("bob").map(text)).toEqual(["a2", "b0"]);
      expect(store.sessions.setCurrent("bob", B2)).toBe(true);
      expect(text(store.sessions.get("bob", B1))).toBe("a2");
      // B1 is no longer current: its next state is written at once, B2's is kept.
      store.sessions.put("bob", B1, utf8("a3"));
      store.sessions.put("bob", B2, utf8("b1"));
      expect(text(store.sessions.current("bob"))).toBe("b1");
      expect(store.sessions.delete("bob", B2)).toBe(true);
      expect(store.sessions.get("bob", B2)).toBeUndefined();
      expect(store.sessions.list("bob").map(text)).toEqual(["a3"]);
    });
    expect(storedState(dir, B1)).toBe("a3");
    // Deleted after its state was kept: the commit does not bring it back.
    expect(storedState(dir, B2)).toBeUndefined();
  });

  test("a transaction SQLite ends on its own (disk full and the like) leaves no kept state to a later commit", () => {
    const { store, dir } = open();
    store.sessions.put("bob", B1, utf8("s0"));
    // A stand-in for SQLITE_FULL / IOERR: a statement that makes SQLite roll the whole transaction back.
    const db = (store as unknown as { db: { exec(sql: string): void; prepare(sql: string): { run(): void } } }).db;
    db.exec(
      "CREATE TABLE probe (x); CREATE TRIGGER probe_full BEFORE INSERT ON probe BEGIN SELECT RAISE(ROLLBACK, 'full'); END;",
    );
    expect(() =>
      store.transaction(() => {
        store.sessions.put("bob", B1, utf8("s1"));
        // The caller catches the failure of a later frame and goes on (no caller does today).
        expect(() => store.transaction(() => db.prepare("INSERT INTO probe VALUES (1)").run())).toThrow("full");
        expect(store.inTransaction).toBe(false);
        // Nothing of the ended transaction is read back, nor committed by the next write, which
        // is a transaction of its own now.
        expect(text(store.sessions.current("bob"))).toBe("s0");
        store.contacts.pin("carol", fakeIdentity(2));
      }),
    ).toThrow("no transaction is active"); // and its own COMMIT fails
    expect(storedState(dir, B1)).toBe("s0");
  });

  test("a kept state whose write fails stays kept: the commit still writes it", () => {
    let failNext = false;
    const inner = seededRng(utf8("session-writes failing seal"));
    const rng: Rng = (n) => {
      if (failNext) {
        failNext = false;
        throw new Error("no randomness");
      }
      return inner(n);
    };
    const dir = tempDir();
    const store = openTestStore(dir, undefined, { rng });
    opened.push(store);
    store.contacts.pin("bob", fakeIdentity(1));
    store.sessions.put("bob", B1, utf8("s0"));
    store.sessions.put("bob", B2, utf8("b0"));
    store.transaction(() => {
      store.sessions.put("bob", B1, utf8("s1"));
      // setCurrent writes the kept state first; its seal fails, and the caller goes on.
      failNext = true;
      expect(() => store.sessions.setCurrent("bob", B2)).toThrow("no randomness");
      expect(text(store.sessions.get("bob", B1))).toBe("s1");
    });
    expect(storedState(dir, B1)).toBe("s1");
  });

  test("outside a transaction a put is written at once", () => {
    const { store, dir } = open();
    store.sessions.put("bob", B1, utf8("s0"));
    store.sessions.put("bob", B1, utf8("s1"));
    expect(storedState(dir, B1)).toBe("s1");
  });
});
