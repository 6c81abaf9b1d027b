/**
 * Signed group state (SECURITY.md §15.4): the signed bytes as the spec lays
 * them out, signatures checked against node:crypto's Ed25519, every acceptance rule with the
 * attack it stops, reconciliation with the relay's list, rotation, and taking sender keys.
 */
import { createPrivateKey, sign as nodeSign } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { concat, u32be, utf8 } from "../../../crypto/bytes.js";
import { type IdentityKeyPair, identityFromSecrets } from "../../../crypto/identity.js";
import { UsageError } from "../../../src/errors.js";
import {
  type GroupStateMessage,
  type SenderKeyMessage,
  decodeAppMessage,
  encodeAppMessage,
} from "../../../client/protocol/app-message.js";
import {
  GROUP_STATE_LABEL,
  type GroupState,
  type GroupStateContext,
  acceptGroupState,
  groupStateSignedBytes,
  needsRotation,
  reconcile,
  senderKeyVerdict,
  signGroupState,
  verifyGroupState,
} from "../../../client/protocol/group-state.js";

// ---------------------------------------------------------------------------------------------
// Fixtures

const NAMES = ["alice", "bob", "carol", "dave", "mallory"] as const;
type Name = (typeof NAMES)[number];
const seedOf = (name: string) => new Uint8Array(32).fill(NAMES.indexOf(name as Name) + 1);
const ID: Record<Name, IdentityKeyPair> = Object.fromEntries(
  NAMES.map((n) => [n, identityFromSecrets(seedOf(n), new Uint8Array(32).fill(0x40 + NAMES.indexOf(n)))]),
) as Record<Name, IdentityKeyPair>;
const keyOf = (name: string) => (Object.hasOwn(ID, name) ? ID[name as Name].publicKey.signingKey : undefined);

const CHAT = 4242;
const ctx = (overrides: Partial<GroupStateContext> = {}): GroupStateContext => ({
  chat: CHAT,
  signingKeyOf: keyOf,
  bootstrapSigners: ["alice"],
  ...overrides,
});

const base: GroupState = {
  chat: CHAT,
  epoch: 1,
  name: "Ops",
  members: ["alice", "bob", "carol"],
  admins: ["alice", "carol"],
  by: "alice",
  ts: 1_700_000_000_000,
};

/** `by` signs `state` (with its own key unless `key` says whose). */
const signed = (state: Partial<GroupState>, key?: Name): GroupStateMessage => {
  const s = { ...base, ...state };
  return signGroupState(ID[key ?? (s.by as Name)], s);
};

function accept(prev: GroupStateMessage | undefined, next: GroupStateMessage, c: GroupStateContext = ctx()) {
  return acceptGroupState(prev, next, c);
}

/** The state accepted after this chain of states, each of which must be accepted. */
function chain(...states: GroupStateMessage[]): GroupStateMessage {
  let cur: GroupStateMessage | undefined;
  for (const s of states) {
    const v = accept(cur, s);
    expect(v.verdict).toBe("accepted");
    cur = s;
  }
  return cur as GroupStateMessage;
}

const epoch1 = signed({});

// ---------------------------------------------------------------------------------------------

describe("signing (SECURITY.md §15.4.1)", () => {
  test("the signed bytes, laid out by hand from the spec", () => {
    const field = (s: string) => concat(u32be(utf8(s).length), utf8(s));
    const u64 = (n: number) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(n));
      return b;
    };
    const state: GroupState = { ...base, chat: 2 ** 40 + 5, name: "Équipe" };
    const expected = concat(
      utf8("SMSG-v1 group state"),
      u64(2 ** 40 + 5),
      u32be(1),
      field("Équipe"),
      u32be(3),
      field("alice"),
      field("bob"),
      field("carol"),
      u32be(2),
      field("alice"),
      field("carol"),
      field("alice"),
      u64(1_700_000_000_000),
    );
    expect(GROUP_STATE_LABEL).toBe("SMSG-v1 group state");
    expect(Buffer.from(groupStateSignedBytes(state)).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
  });

  test("the signature is plain Ed25519 over those bytes (checked with node:crypto)", () => {
    const msg = signed({});
    const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seedOf("alice")]);
    const expected = nodeSign(
      null,
      groupStateSignedBytes(msg),
      createPrivateKey({ key: der, format: "der", type: "pkcs8" }),
    );
    expect(Buffer.from(msg.signature).equals(expected)).toBe(true);
    expect(verifyGroupState(ID.alice.publicKey.signingKey, msg)).toBe(true);
  });

  test("signGroupState sorts members and admins; the message survives encoding", () => {
    const msg = signed({ members: ["carol", "alice", "bob"], admins: ["carol", "alice"] });
    expect(msg.members).toEqual(["alice", "bob", "carol"]);
    expect(msg.admins).toEqual(["alice", "carol"]);
    const again = decodeAppMessage(encodeAppMessage(msg)) as GroupStateMessage;
    expect(again).toEqual(msg);
    expect(verifyGroupState(ID.alice.publicKey.signingKey, again)).toBe(true);
  });

  test.each([
    ["an admin who is not a member", { admins: ["alice", "dave"] }],
    ["a duplicate member", { members: ["alice", "alice", "bob"] }],
    ["no admin", { admins: [] }],
    ["epoch 0", { epoch: 0 }],
    ["a name with a control character", { name: "a\u0000" }],
    ["a username not canonical", { by: "Alice" }],
  ])("signGroupState refuses %s", (_, change) => {
    expect(() => signGroupState(ID.alice, { ...base, ...change } as GroupState)).toThrow(UsageError);
  });

  test("every field is covered: changing any one breaks the signature", () => {
    const msg = signed({});
    const changes: Partial<GroupStateMessage>[] = [
      { chat: CHAT + 1 },
      { epoch: 2 },
      { name: "Ops2" },
      { members: ["alice", "bob", "carol", "dave"] },
      { members: ["alice", "carol"] },
      { admins: ["alice"] },
      { by: "carol" },
      { ts: base.ts + 1 },
      { signature: msg.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) },
    ];
    for (const c of changes) {
      const forged = { ...msg, ...c };
      expect(verifyGroupState(ID.alice.publicKey.signingKey, forged)).toBe(false);
      expect(verifyGroupState(ID.carol.publicKey.signingKey, forged)).toBe(false);
    }
    expect(verifyGroupState(ID.bob.publicKey.signingKey, msg)).toBe(false);
    expect(verifyGroupState(new Uint8Array(31), msg)).toBe(false);
  });

  test("a member list cannot be shifted between fields (length prefixes)", () => {
    // "bob" as a member vs as part of the name: different bytes.
    const a = groupStateSignedBytes({ ...base, name: "x", members: ["alice", "bob", "carol"] });
    const b = groupStateSignedBytes({ ...base, name: "x\u0000\u0000\u0000\u0003bob", members: ["alice", "carol"] });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});

describe("acceptance (SECURITY.md §15.4.2)", () => {
  test("bootstrap: the creator's first state is accepted and marked as trusted on first use", () => {
    const v = accept(undefined, epoch1);
    expect(v).toEqual({
      verdict: "accepted",
      state: epoch1,
      bootstrap: true,
      added: ["alice", "bob", "carol"],
      removed: [],
      rotate: false,
    });
  });

  test("bootstrap: a member added later takes a later epoch from a relay-listed admin", () => {
    const s = signed({ epoch: 7, by: "carol" });
    expect(accept(undefined, s, ctx({ bootstrapSigners: ["alice", "carol"] })).verdict).toBe("accepted");
  });

  test("bootstrap: not from someone the relay did not name, nor from a signer the state does not make admin", () => {
    expect(accept(undefined, signed({ by: "carol" }))).toEqual({ verdict: "rejected", reason: "not_admin" });
    const notAdmin = signed({ by: "bob" });
    expect(accept(undefined, notAdmin, ctx({ bootstrapSigners: ["bob"] }))).toEqual({
      verdict: "rejected",
      reason: "not_admin",
    });
  });

  test("an admin's next state is accepted, with who was added and removed", () => {
    const next = signed({ epoch: 2, by: "carol", members: ["alice", "carol", "dave"] });
    expect(accept(epoch1, next)).toEqual({
      verdict: "accepted",
      state: next,
      bootstrap: false,
      added: ["dave"],
      removed: ["bob"],
      rotate: true,
    });
    const grow = signed({ epoch: 2, members: ["alice", "bob", "carol", "dave"] });
    expect(accept(epoch1, grow)).toMatchObject({ verdict: "accepted", added: ["dave"], removed: [], rotate: false });
  });

  test("epochs only need to increase: a member who missed a state still follows", () => {
    expect(accept(epoch1, signed({ epoch: 5, name: "Ops (renamed)" })).verdict).toBe("accepted");
  });

  test("forged signature: garbage, another user's key, or a valid signature moved to another state", () => {
    const good = signed({ epoch: 2, name: "new" });
    expect(accept(epoch1, { ...good, signature: new Uint8Array(64) })).toEqual({
      verdict: "rejected",
      reason: "bad_signature",
    });
    const byMallory = signed({ epoch: 2, by: "alice" }, "mallory"); // claims alice, signed by mallory
    expect(accept(epoch1, byMallory)).toEqual({ verdict: "rejected", reason: "bad_signature" });
    const moved = { ...good, members: ["alice", "bob", "carol", "mallory"] };
    expect(accept(epoch1, moved)).toEqual({ verdict: "rejected", reason: "bad_signature" });
  });

  test("a non-admin member cannot change the group, even with a valid signature", () => {
    const byBob = signed({ epoch: 2, by: "bob", members: ["alice", "bob", "carol", "mallory"] });
    expect(verifyGroupState(ID.bob.publicKey.signingKey, byBob)).toBe(true);
    expect(accept(epoch1, byBob)).toEqual({ verdict: "rejected", reason: "not_admin" });
    // Nor can bob make himself admin.
    expect(accept(epoch1, signed({ epoch: 2, by: "bob", admins: ["alice", "bob", "carol"] }))).toEqual({
      verdict: "rejected",
      reason: "not_admin",
    });
  });

  test("wrong chat: a state signed for another group is not replayed into this one", () => {
    const other = signed({ chat: CHAT + 1, epoch: 2 });
    expect(accept(epoch1, other)).toEqual({ verdict: "rejected", reason: "wrong_chat" });
    expect(accept(undefined, signed({ chat: CHAT + 1 }))).toEqual({ verdict: "rejected", reason: "wrong_chat" });
  });

  test("stale epoch: an old state replayed by the relay changes nothing", () => {
    const s2 = signed({ epoch: 2, members: ["alice", "carol"] }); // bob removed
    const cur = chain(epoch1, s2);
    expect(accept(cur, epoch1)).toEqual({ verdict: "rejected", reason: "stale_epoch" });
  });

  test("the same state again is a duplicate; a different one with the same epoch is a conflict", () => {
    expect(accept(epoch1, signed({}))).toEqual({ verdict: "duplicate" });
    expect(accept(epoch1, signed({ by: "carol" }))).toEqual({ verdict: "rejected", reason: "conflict" });
    expect(accept(epoch1, { ...signed({ name: "x" }), signature: new Uint8Array(64) })).toEqual({
      verdict: "rejected",
      reason: "bad_signature",
    });
  });

  test("unknown signer: no pinned key (or a changed key not yet accepted)", () => {
    const s = signed({ epoch: 2 });
    expect(accept(epoch1, s, ctx({ signingKeyOf: () => undefined }))).toEqual({
      verdict: "rejected",
      reason: "unknown_signer",
    });
  });

  test("a removed admin can no longer sign a valid next state", () => {
    // alice removes carol (an admin) from the group.
    const s2 = signed({ epoch: 2, members: ["alice", "bob"], admins: ["alice"] });
    const cur = chain(epoch1, s2);
    const revenge = signed({
      epoch: 3,
      by: "carol",
      members: ["alice", "bob", "carol", "mallory"],
      admins: ["alice", "carol"],
    });
    expect(accept(cur, revenge)).toEqual({ verdict: "rejected", reason: "not_admin" });
    // Nor can a demoted admin who stays a member.
    const demoted = chain(epoch1, signed({ epoch: 2, admins: ["alice"] }));
    expect(accept(demoted, signed({ epoch: 3, by: "carol", admins: ["alice", "carol"] }))).toEqual({
      verdict: "rejected",
      reason: "not_admin",
    });
  });

  test("a promoted member can sign from the next state on; an admin who leaves signs its own leaving", () => {
    const promoted = signed({ epoch: 2, admins: ["alice", "bob", "carol"] });
    const leave = signed({ epoch: 4, members: ["bob", "carol"], admins: ["bob", "carol"], by: "alice" });
    const after = chain(epoch1, promoted, signed({ epoch: 3, by: "bob", name: "bob's now" }), leave);
    expect(
      accept(after, signed({ epoch: 5, by: "alice", members: ["alice", "bob", "carol"], admins: ["alice", "bob"] })),
    ).toEqual({
      verdict: "rejected",
      reason: "not_admin",
    });
  });

  test("misuse is a usage error, not a verdict", () => {
    expect(() => accept(undefined, { ...epoch1, members: ["bob", "alice"] })).toThrow(UsageError);
    expect(() => accept(signed({ chat: 1 }), epoch1)).toThrow(UsageError);
  });

  test("property: over random proposals, accepted exactly when the rules say so", () => {
    const proposal = fc.record({
      signer: fc.constantFrom(...NAMES),
      claims: fc.option(fc.constantFrom(...NAMES), { freq: 4 }), // sometimes `by` names someone else
      epochDelta: fc.integer({ min: -1, max: 2 }),
      wrongChat: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      members: fc.subarray([...NAMES], { minLength: 1 }),
      adminPick: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    });
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(proposal, { minLength: 1, maxLength: 12 }), (proposals) => {
        let cur: GroupStateMessage | undefined;
        for (const p of proposals) {
          const by = p.claims ?? p.signer;
          const members = [...p.members].sort();
          let admins = members.filter((_, i) => p.adminPick[i]);
          if (admins.length === 0) admins = [members[0]!];
          const epoch = Math.max(1, (cur?.epoch ?? 1) + p.epochDelta);
          const msg = signGroupState(ID[p.signer], {
            ...base,
            chat: p.wrongChat ? CHAT + 1 : CHAT,
            epoch,
            members,
            admins,
            by,
          });
          const v = accept(cur, msg);
          // The rules, restated.
          const genuine = by === p.signer;
          const sameContent =
            cur !== undefined &&
            Buffer.from(groupStateSignedBytes(cur)).equals(Buffer.from(groupStateSignedBytes(msg)));
          let expected: string;
          if (p.wrongChat) expected = "wrong_chat";
          else if (cur && epoch < cur.epoch) expected = "stale_epoch";
          else if (cur && epoch === cur.epoch && sameContent) expected = "duplicate";
          else if (!genuine) expected = "bad_signature";
          else if (cur && epoch === cur.epoch) expected = "conflict";
          else if (cur ? !cur.admins.includes(by) : !(by === "alice" && admins.includes(by))) expected = "not_admin";
          else expected = "accepted";
          expect(v.verdict === "rejected" ? v.reason : v.verdict).toBe(expected);
          seen.set(expected, (seen.get(expected) ?? 0) + 1);
          if (v.verdict === "accepted") cur = v.state;
        }
      }),
      { numRuns: 300 },
    );
    // Every outcome was reached, so every rule was exercised both ways.
    for (const outcome of ["accepted", "wrong_chat", "stale_epoch", "bad_signature", "conflict", "not_admin"]) {
      expect(seen.get(outcome) ?? 0).toBeGreaterThan(5);
    }
  });
});

describe("reconcile (SECURITY.md §15.4.3)", () => {
  test("the relay agrees", () => {
    expect(reconcile(epoch1, ["carol", "alice", "bob"])).toEqual({
      confirmed: ["alice", "bob", "carol"],
      unannounced: [],
      departed: [],
    });
  });

  test("the relay added someone no admin announced: unannounced, no keys", () => {
    expect(reconcile(epoch1, ["alice", "bob", "carol", "mallory"])).toEqual({
      confirmed: ["alice", "bob", "carol"],
      unannounced: ["mallory"],
      departed: [],
    });
  });

  test("someone left at the relay before a state announced it: departed", () => {
    expect(reconcile(epoch1, ["alice", "carol"])).toEqual({
      confirmed: ["alice", "carol"],
      unannounced: [],
      departed: ["bob"],
    });
  });

  test("both at once, duplicates in the relay's list counted once", () => {
    expect(reconcile(epoch1, ["dave", "alice", "dave", "bob"])).toEqual({
      confirmed: ["alice", "bob"],
      unannounced: ["dave"],
      departed: ["carol"],
    });
  });

  test("no accepted state yet: everyone the relay lists is unannounced", () => {
    expect(reconcile(undefined, ["bob", "alice"])).toEqual({
      confirmed: [],
      unannounced: ["alice", "bob"],
      departed: [],
    });
  });
});

describe("needsRotation", () => {
  const m = (...members: string[]) => ({ members });
  test("when anyone left or was removed, and only then", () => {
    expect(needsRotation(m("alice", "bob"), m("alice", "bob"))).toBe(false);
    expect(needsRotation(m("alice", "bob"), m("alice", "bob", "carol"))).toBe(false);
    expect(needsRotation(m("alice", "bob"), m("alice"))).toBe(true);
    expect(needsRotation(m("alice", "bob"), m("alice", "carol"))).toBe(true);
    expect(needsRotation(m(), m("alice"))).toBe(false);
  });
});

describe("senderKeyVerdict (SECURITY.md §15.4.4)", () => {
  const key = (epoch: number, chat = CHAT): SenderKeyMessage => ({
    v: 1,
    k: "sender_key",
    chat,
    epoch,
    distribution: new Uint8Array(73).fill(1),
  });
  const relay = ["alice", "bob", "carol", "mallory"];

  test("from a confirmed member at the accepted epoch or an older one: accept", () => {
    expect(senderKeyVerdict(epoch1, relay, CHAT, "bob", key(1))).toEqual({ verdict: "accept" });
    const s3 = chain(epoch1, signed({ epoch: 3 }));
    expect(senderKeyVerdict(s3, relay, CHAT, "bob", key(1))).toEqual({ verdict: "accept" });
  });

  test("from an epoch not accepted yet, or before any state: pending", () => {
    expect(senderKeyVerdict(epoch1, relay, CHAT, "bob", key(2))).toEqual({ verdict: "pending" });
    expect(senderKeyVerdict(undefined, relay, CHAT, "bob", key(1))).toEqual({ verdict: "pending" });
  });

  test("from the unannounced, the departed, strangers, or for another chat: rejected", () => {
    expect(senderKeyVerdict(epoch1, relay, CHAT, "mallory", key(1))).toEqual({
      verdict: "rejected",
      reason: "not_member",
    });
    expect(senderKeyVerdict(epoch1, ["alice", "carol"], CHAT, "bob", key(1))).toEqual({
      verdict: "rejected",
      reason: "not_member",
    });
    expect(senderKeyVerdict(epoch1, relay, CHAT, "dave", key(1))).toEqual({
      verdict: "rejected",
      reason: "not_member",
    });
    expect(senderKeyVerdict(epoch1, relay, CHAT, "bob", key(1, CHAT + 1))).toEqual({
      verdict: "rejected",
      reason: "wrong_chat",
    });
  });

  test("misuse is a usage error", () => {
    expect(() => senderKeyVerdict(epoch1, relay, CHAT, "bob", { ...key(1), distribution: new Uint8Array(3) })).toThrow(
      UsageError,
    );
    expect(() => senderKeyVerdict(signed({ chat: 1 }), relay, CHAT, "bob", key(1))).toThrow(UsageError);
  });
});
