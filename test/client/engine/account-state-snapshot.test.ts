/**
 * Building the account-state snapshot from a store and applying it to another (SECURITY.md
 * §17.6.1): a fresh profile ends with what the account's device had; conflicts resolve as the
 * spec says; a refused or failing apply writes nothing (a property over random snapshots and
 * random failure points); what does not fit 61 440 bytes is left out in the spec's order, or
 * refused.
 */
import { rmSync } from "node:fs";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { toHex, utf8 } from "../../../crypto/bytes.js";
import { seededRng } from "../../../crypto/rng.js";
import {
  AccountStateDoesNotFitError,
  applyAccountState,
  buildAccountState,
  fitAccountState,
  snapshotOfStore,
} from "../../../client/engine/account-state-snapshot.js";
import {
  type AccountState,
  type AccountStateChat,
  AccountStateError,
  MAX_ACCOUNT_STATE_BYTES,
  encodeAccountState,
} from "../../../client/protocol/account-state.js";
import { encodeAppMessage } from "../../../client/protocol/app-message.js";
import { signGroupState } from "../../../client/protocol/group-state.js";
import type { ClientStore } from "../../../client/store/index.js";
import { UsageError } from "../../../src/errors.js";
import { openTestStore, tempDir } from "../store/helpers.js";
import { IDS, PUBS, snapshotArb } from "../protocol/account-state-arbitrary.js";

const dirs: string[] = [];
const stores: ClientStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A new profile store with (or without) its account row. */
function freshStore(withAccount = true, displayName: string | null = null): ClientStore {
  const dir = tempDir("smsg-account-state-");
  dirs.push(dir);
  const store = openTestStore(dir);
  stores.push(store);
  if (withAccount) {
    const r = seededRng(utf8(`account ${dir}`));
    store.account.set({
      relayHost: "127.0.0.1",
      relayPort: 7447,
      relayKey: r(32),
      username: "ann",
      displayName,
      credential: r(32),
      signingSeed: r(32),
      dhPrivate: r(32),
    });
  }
  return store;
}

/** Everything the snapshot touches, as comparable JSON (sealed values opened). */
function dump(store: ClientStore): string {
  return JSON.stringify({
    name: store.account.exists() ? store.account.get()!.displayName : "(no account)",
    contacts: store.contacts.list().map((c) => ({
      ...c,
      identity: toHex(c.identity),
      pendingIdentity: c.pendingIdentity && toHex(c.pendingIdentity),
    })),
    chats: store.chats
      .list()
      .map((c) => ({ ...c, state: toHex(store.groupStates.getState(c.id) ?? new Uint8Array()) })),
  });
}

const sign = (s: Parameters<typeof signGroupState>[1]) => signGroupState(IDS[0]!, s);

/** The account's existing device: every kind of item §17.6.1 carries. */
function populated(): ClientStore {
  const store = freshStore(true, "Ann");
  store.contacts.pin("bob", PUBS[1]!);
  store.contacts.verify("bob", PUBS[1]!);
  store.contacts.setDisplayName("bob", "Bob");
  store.contacts.pin("carol", PUBS[2]!);
  store.contacts.markChanged("carol", PUBS[3]!);
  store.contacts.pin("dave", PUBS[3]!);
  store.chats.upsert({ id: 3, kind: "direct", peer: "bob", myRole: "member" });
  store.chats.markRead(3, 41);
  store.chats.upsert({ id: 4, kind: "direct", peer: "carol", myRole: "member", closed: true });
  store.chats.upsert({ id: 7, kind: "group", name: "team", myRole: "admin" });
  store.groupStates.putState(
    7,
    encodeAppMessage(
      sign({ chat: 7, epoch: 3, name: "team", members: ["ann", "bob", "dave"], admins: ["ann"], by: "ann", ts: 5 }),
    ),
  );
  store.chats.upsert({ id: 9, kind: "group", name: "old", myRole: "member" });
  store.groupStates.putState(
    9,
    encodeAppMessage(
      sign({ chat: 9, epoch: 1, name: "old", members: ["ann", "carol"], admins: ["ann"], by: "ann", ts: 0 }),
    ),
  );
  store.chats.setDeparture(9, "removed", "carol");
  store.chats.upsert({ id: 12, kind: "group", myRole: "member" });
  return store;
}

describe("buildAccountState → applyAccountState", () => {
  it("a fresh profile ends with the account's contacts, keys, verification, names, chats and group states", () => {
    const source = populated();
    const built = buildAccountState(source);
    expect(built.omitted).toEqual({ departedChats: [], closedGroupStates: [] });
    expect(built.state.contacts.map((c) => c.username)).toEqual(["bob", "carol", "dave"]);
    expect(built.state.chats.map((c) => c.id)).toEqual([3, 4, 7, 9, 12]);

    const target = freshStore();
    const applied = applyAccountState(target, built.bytes);
    expect(applied).toEqual({
      contactsPinned: 3,
      contactsMerged: 0,
      keyConflicts: [],
      chatsAdded: 5,
      chatsMerged: 0,
      chatConflicts: [],
      groupStatesStored: 2,
    });
    // What the new device holds is exactly what the snapshot says.
    expect(snapshotOfStore(target)).toEqual(built.state);
    expect(target.account.get()!.displayName).toBe("Ann");
    const bob = target.contacts.get("bob")!;
    expect([bob.verified, bob.keyChanged, bob.displayName]).toEqual([true, false, "Bob"]);
    const carol = target.contacts.get("carol")!;
    expect(carol.keyChanged).toBe(true);
    expect(toHex(carol.pendingIdentity!)).toBe(toHex(PUBS[3]!));
    expect(target.chats.get(3)!.lastReadMsg).toBe(41);
    expect(target.chats.get(9)).toMatchObject({ departure: "removed", departedBy: "carol" });
    expect(toHex(target.groupStates.getState(7)!)).toBe(toHex(source.groupStates.getState(7)!));
    expect(target.groupStates.getState(12)).toBeUndefined();
  });

  it("building needs an account; an account with nothing else gives the 6-byte snapshot", () => {
    expect(() => buildAccountState(freshStore(false))).toThrow(UsageError);
    expect(toHex(buildAccountState(freshStore()).bytes)).toBe("010000000000");
  });

  it("applying to a store that already holds items: the rules of §17.6.1 decide what wins", () => {
    const built = buildAccountState(populated());
    const target = freshStore(true, "Local name");
    // bob pinned here under another key; dave with the same key, unverified, with a local name.
    target.contacts.pin("bob", PUBS[2]!);
    target.contacts.pin("dave", PUBS[3]!);
    target.contacts.setDisplayName("dave", "D");
    // chat 3 is a group here (another kind); chat 7 has a newer state here, chat 9 an older one
    // (epoch 0 cannot be signed, so: none), chat 4 is open here and read further.
    target.chats.upsert({ id: 3, kind: "group", myRole: "member" });
    target.chats.upsert({ id: 4, kind: "direct", peer: "carol", myRole: "member" });
    target.chats.markRead(4, 99);
    target.chats.upsert({ id: 7, kind: "group", name: "ours", myRole: "member" });
    const newer = encodeAppMessage(
      sign({ chat: 7, epoch: 4, name: "ours", members: ["ann", "bob"], admins: ["ann"], by: "ann", ts: 9 }),
    );
    target.groupStates.putState(7, newer);
    target.chats.upsert({ id: 9, kind: "group", myRole: "member" });

    const applied = applyAccountState(target, built.bytes);
    expect(applied.keyConflicts).toEqual(["bob"]);
    expect(applied.chatConflicts).toEqual([3]);
    expect([applied.contactsPinned, applied.contactsMerged, applied.chatsAdded, applied.chatsMerged]).toEqual([
      1, 1, 1, 3,
    ]);
    // bob: the local pinned key stays; the snapshot's is a pending change; not verified, no name taken.
    const bob = target.contacts.get("bob")!;
    expect(toHex(bob.identity)).toBe(toHex(PUBS[2]!));
    expect(toHex(bob.pendingIdentity!)).toBe(toHex(PUBS[1]!));
    expect([bob.verified, bob.displayName]).toEqual([false, null]);
    // dave: same key, merged; the snapshot has no name for him, so the local one stays.
    expect(target.contacts.get("dave")!.displayName).toBe("D");
    // chat 3 stays the local group; chat 4 keeps its local open flag and the higher read position.
    expect(target.chats.get(3)!.kind).toBe("group");
    expect(target.chats.get(4)).toMatchObject({ closed: false, lastReadMsg: 99 });
    // chat 7: the newer local state and the local name stay; chat 9 takes the snapshot's state.
    expect(toHex(target.groupStates.getState(7)!)).toBe(toHex(newer));
    expect(target.chats.get(7)!.name).toBe("ours");
    expect(target.groupStates.getState(9)).toBeDefined();
    expect(target.chats.get(9)!.name).toBe("old");
    expect(applied.groupStatesStored).toBe(1);
    // The snapshot's own display name replaces the local one.
    expect(target.account.get()!.displayName).toBe("Ann");
  });

  it("a snapshot with the same state applied twice changes nothing the second time", () => {
    const built = buildAccountState(populated());
    const target = freshStore();
    applyAccountState(target, built.bytes);
    const before = dump(target);
    const again = applyAccountState(target, built.bytes);
    expect(dump(target)).toBe(before);
    expect([again.contactsMerged, again.chatsMerged, again.groupStatesStored]).toEqual([3, 5, 0]);
  });
});

describe("a refused or failing apply writes nothing", () => {
  it("malformed, unsupported or too long: refused before any write", () => {
    const built = buildAccountState(populated());
    const target = freshStore(true, "Mine");
    const before = dump(target);
    const cut = built.bytes.subarray(0, built.bytes.length - 1);
    const newer = Uint8Array.from(built.bytes, (b, i) => (i === 0 ? 2 : b));
    const long = new Uint8Array(MAX_ACCOUNT_STATE_BYTES + 1).fill(1);
    for (const [bytes, reason] of [
      [cut, "malformed"],
      [newer, "unsupported_version"],
      [long, "too_large"],
    ] as const) {
      expect(() => applyAccountState(target, bytes)).toThrow(expect.objectContaining({ reason }));
      expect(dump(target)).toBe(before);
    }
    expect(() => applyAccountState(target, newer)).toThrow(AccountStateError);
    expect(() => applyAccountState(target, newer)).toThrow("account state format 2 is not supported by this version");
  });

  it("a profile without its account row: UsageError, nothing written", () => {
    const built = buildAccountState(populated());
    const target = freshStore(false);
    const before = dump(target);
    expect(() => applyAccountState(target, built.bytes)).toThrow(UsageError);
    expect(dump(target)).toBe(before);
  });

  it("property: a write failing at any point of the apply leaves the store as it was", () => {
    const target = freshStore(true, "Mine");
    target.contacts.pin("bob", PUBS[2]!);
    target.chats.upsert({ id: 1, kind: "direct", peer: "bob", myRole: "member" });
    const before = dump(target);
    // Every write the apply can make, counted; the k-th one throws (a full disk, say).
    const writers: [object, string][] = [
      [target.account, "setDisplayName"],
      [target.contacts, "pin"],
      [target.contacts, "verify"],
      [target.contacts, "markChanged"],
      [target.contacts, "setDisplayName"],
      [target.chats, "upsert"],
      [target.chats, "setName"],
      [target.chats, "setDeparture"],
      [target.chats, "markRead"],
      [target.groupStates, "putState"],
    ];
    let countdown = Infinity;
    let writes = 0;
    for (const [table, name] of writers) {
      const t = table as Record<string, (...a: unknown[]) => unknown>;
      const original = t[name]!.bind(table);
      t[name] = (...args: unknown[]) => {
        writes++;
        if (--countdown <= 0) throw new Error("injected write failure");
        return original(...args);
      };
    }
    fc.assert(
      fc.property(snapshotArb, fc.nat(), (state, k) => {
        const bytes = encodeAccountState(state);
        // Count the writes of a full apply, then undo it by failing at the very end.
        countdown = Infinity;
        writes = 0;
        expect(() =>
          target.transaction(() => {
            applyAccountState(target, bytes);
            throw new Error("roll back");
          }),
        ).toThrow("roll back");
        expect(dump(target)).toBe(before);
        if (writes === 0) return;
        countdown = (k % writes) + 1;
        expect(() => applyAccountState(target, bytes)).toThrow("injected write failure");
        expect(dump(target)).toBe(before);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

describe("what does not fit 61 440 bytes (§17.6.1)", () => {
  const members = Array.from({ length: 256 }, (_, i) => `${"m".repeat(29)}${String(i).padStart(3, "0")}`);
  /** A group of ~17 KB: 256 members of 32 letters, all admins. */
  const big = (id: number, extra: Partial<AccountStateChat> = {}): AccountStateChat => ({
    id,
    kind: "group",
    peer: null,
    name: `g${id}`,
    closed: false,
    myRole: "member",
    departure: null,
    departedBy: null,
    lastReadMsg: 7,
    groupState: sign({ chat: id, epoch: 1, name: `g${id}`, members, admins: members, by: members[0]!, ts: 0 }),
    ...extra,
  });
  const of = (chats: AccountStateChat[]): AccountState => ({ displayName: "Ann", contacts: [], chats });

  it("fits: nothing left out", () => {
    const r = fitAccountState(of([big(1), big(2), big(3)]));
    expect(r.omitted).toEqual({ departedChats: [], closedGroupStates: [] });
    expect(r.state.chats).toHaveLength(3);
  });

  it("step 1: the groups we left or were removed from go, whole, and only while needed", () => {
    const r = fitAccountState(
      of([big(1), big(2, { departure: "left" }), big(3), big(4, { departure: "removed" }), big(5, { closed: true })]),
    );
    expect(r.omitted).toEqual({ departedChats: [2, 4], closedGroupStates: [] });
    expect(r.state.chats.map((c) => c.id)).toEqual([1, 3, 5]);
    expect(r.state.chats.every((c) => c.groupState !== null && c.lastReadMsg === 7)).toBe(true);
    expect(r.bytes.length).toBeLessThanOrEqual(MAX_ACCOUNT_STATE_BYTES);
  });

  it("step 2: then the group states of closed chats go; the chats stay", () => {
    const r = fitAccountState(
      of([big(1), big(2, { departure: "left" }), big(3, { closed: true }), big(4, { closed: true }), big(5)]),
    );
    expect(r.omitted).toEqual({ departedChats: [2], closedGroupStates: [3, 4] });
    expect(r.state.chats.map((c) => [c.id, c.groupState !== null])).toEqual([
      [1, true],
      [3, false],
      [4, false],
      [5, true],
    ]);
  });

  it("still too long: refused with a sentence that says what to do; contacts and open groups never go", () => {
    const e = (() => {
      try {
        fitAccountState(of([big(1), big(2), big(3), big(4, { closed: true }), big(5)]));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(AccountStateDoesNotFitError);
    expect((e as AccountStateDoesNotFitError).code).toBe("LIMIT");
    expect((e as Error).message).toMatch(
      /^the account's state \(0 contacts, 5 chats\) needs \d+ bytes; a new device can be given at most 61440: close or leave groups you no longer use, then try again$/,
    );
  });

  it("from a store: buildAccountState leaves out a departed group and still applies", () => {
    const source = freshStore(true, "Ann");
    for (const id of [1, 2, 3, 4]) {
      source.chats.upsert({ id, kind: "group", name: `g${id}`, myRole: "member" });
      source.groupStates.putState(id, encodeAppMessage(big(id).groupState!));
    }
    source.chats.setDeparture(2, "left");
    const built = buildAccountState(source);
    expect(built.omitted.departedChats).toEqual([2]);
    const target = freshStore();
    applyAccountState(target, built.bytes);
    expect(
      target.chats
        .list()
        .map((c) => c.id)
        .sort(),
    ).toEqual([1, 3, 4]);
    source.chats.setDeparture(2, null);
    expect(() => buildAccountState(source)).toThrow(AccountStateDoesNotFitError);
  });
});

describe("entries naming the account itself", () => {
  it("are skipped: no key is pinned or marked changed for ourselves, no direct chat with ourselves", () => {
    const store = freshStore();
    const bytes = encodeAccountState({
      displayName: null,
      contacts: [
        { username: "ann", identity: PUBS[0]!, verified: false, pendingIdentity: PUBS[1]!, displayName: null },
      ],
      chats: [
        {
          id: 5,
          kind: "direct",
          peer: "ann",
          name: null,
          closed: false,
          myRole: "member",
          departure: null,
          departedBy: null,
          lastReadMsg: 0,
          groupState: null,
        },
      ],
    });
    const applied = applyAccountState(store, bytes);
    expect(applied).toMatchObject({ contactsPinned: 0, chatsAdded: 0 });
    expect(store.contacts.get("ann")).toBeUndefined();
    expect(store.chats.get(5)).toBeUndefined();
  });
});
