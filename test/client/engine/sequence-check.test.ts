/** Sequence verdicts rebuilt from the stored history (client/engine/sequence-check.ts, SECURITY.md §15.3). */
import { describe, expect, test } from "vitest";
import { sequenceVerdict } from "../../../client/engine/sequence-check.js";
import { encodeIdentityPublic, generateIdentity } from "../../../crypto/identity.js";
import { systemRng } from "../../../src/system-rng.js";
import { openTestStore, tempDir } from "../store/helpers.js";

const identity = () => encodeIdentityPublic(generateIdentity(systemRng).publicKey);

describe("sequenceVerdict", () => {
  test("ok, gap, late, duplicate; and a fresh start after an accepted key change", () => {
    const store = openTestStore(tempDir());
    store.chats.upsert({ id: 7, kind: "direct", peer: "bob", myRole: "member" });
    store.contacts.pin("bob", identity());
    let relayId = 100;
    const receive = (seq: number) => {
      const v = sequenceVerdict(store, 7, "bob", seq);
      store.messages.insert({
        chatId: 7,
        relayMsgId: relayId++,
        sender: "bob",
        sentAt: 1,
        body: `m${seq}`,
        direction: "in",
        status: "delivered",
        senderSeq: seq,
      });
      return v;
    };
    expect(receive(1)).toEqual({ kind: "ok" });
    expect(receive(2)).toEqual({ kind: "ok" });
    expect(receive(5)).toEqual({ kind: "gap", from: 3, to: 4 });
    expect(receive(3)).toEqual({ kind: "late" });
    expect(receive(3)).toEqual({ kind: "duplicate" });
    expect(receive(6)).toEqual({ kind: "ok" });
    // Our own numbers are another sender's.
    expect(sequenceVerdict(store, 7, "alice", 1)).toEqual({ kind: "ok" });

    // bob's key changes; while the change is pending the old counters still apply...
    store.contacts.pin("bob", identity());
    expect(sequenceVerdict(store, 7, "bob", 7)).toEqual({ kind: "ok" });
    // ...once accepted, the new key's sender starts over, unanchored.
    store.contacts.acceptChange("bob");
    expect(receive(1)).toEqual({ kind: "ok" });
    expect(receive(2)).toEqual({ kind: "ok" });
    expect(receive(4)).toEqual({ kind: "gap", from: 3, to: 3 });
    expect(receive(2)).toEqual({ kind: "duplicate" });
    store.close();
  });
});
