/**
 * Sessions with our own account's other devices (SECURITY.md §17.5; schema.ts V7): the peer is
 * our own username, which is never a contact. The store takes them, and still refuses a
 * session with anyone who is neither a contact nor our own account.
 */
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { seededRng } from "../../../crypto/rng.js";
import { fakeIdentity, openTestStore, tempDir } from "./helpers.js";

const bytes = (label: string, n: number) => seededRng(utf8(`own-device sessions ${label}`))(n);

describe("sessions with our own devices", () => {
  test("a session with our own account's device 2 is stored; a stranger's is refused, changing nothing", () => {
    const store = openTestStore(tempDir());
    store.account.set({
      relayHost: "relay.example",
      relayPort: 7443,
      relayKey: bytes("relay key", 32),
      username: "alice",
      displayName: null,
      credential: bytes("credential", 32),
      signingSeed: bytes("seed", 32),
      dhPrivate: bytes("dh", 32),
    });
    store.contacts.pin("bob", fakeIdentity(1));
    store.sessions.put("alice", bytes("base 1", 32), utf8("state"), { device: 2 });
    store.sessions.put("bob", bytes("base 2", 32), utf8("state"), { device: 1 });
    expect(store.sessions.current("alice", 2)?.state).toEqual(utf8("state"));
    expect(() => store.sessions.put("stranger", bytes("base 3", 32), utf8("x"))).toThrow(/contact or our own account/);
    expect(store.sessions.devices("stranger")).toEqual([]);
    expect(store.sessions.devices("alice")).toEqual([2]);
    store.close();
  });
});
