/**
 * test/vectors/account-state.json: the account-state snapshot of SECURITY.md §17.6.1. Lives
 * beside the client's protocol code, not in crypto/vectors/, because crypto/ may not import
 * client/ (docs/ARCHITECTURE.md §2); `smsg vectors` lists it with the others.
 *
 * Inputs: four identities (`identities[i].signing_seed`, `.dh_private`): the account (0, which
 * signs the group states) and three contacts. The snapshots, and the malformed table, are fixed
 * by the suite, so an edited case is a mismatch rather than a new case. Outputs: per snapshot
 * its fields (bytes as hex) and its canonical encoding; per malformed payload the decoder's
 * reason and error text. The malformed payloads are written here byte by byte (`raw` below),
 * not by the encoder, which refuses to write them.
 */
import { concat, toHex, u16be, u32be, utf8 } from "../../crypto/bytes.js";
import { CodecError } from "../../crypto/errors.js";
import { encodeIdentityPublic, identityFromSecrets } from "../../crypto/identity.js";
import { seededRng } from "../../crypto/rng.js";
import { Inputs, clamp } from "../../crypto/vectors/inputs.js";
import type { VectorSuite } from "../../crypto/vectors/suite.js";
import {
  type AccountState,
  AccountStateError,
  EMPTY_ACCOUNT_STATE,
  decodeAccountState,
  encodeAccountState,
} from "./account-state.js";
import { signGroupState } from "./group-state.js";

const FILE = "account-state.json";

const DESCRIPTION =
  "The account-state snapshot a new device starts from (device-link grant, passphrase backup). identities: the " +
  "account (0, signer of the group states) and three contacts, as Ed25519 seed and clamped X25519 private key; " +
  "each identity's IdentityPublic. snapshots: fields fixed by the suite (identities by index, group states signed " +
  "by identity 0) and the canonical encoding. empty: the empty state decodes to the empty snapshot. malformed: " +
  "payloads that must be refused, with the reason (unsupported_version or malformed) and the error text.";

/** A time in ms (2026-12-02). */
const TS = 1_796_216_202_286;
const MAX = Number.MAX_SAFE_INTEGER;

type Ids = Uint8Array[];

/** The snapshots of the suite, from the identities' IdentityPublic encodings and the account's key pair. */
function snapshots(ids: Ids, sign: (s: Parameters<typeof signGroupState>[1]) => ReturnType<typeof signGroupState>) {
  const members = Array.from({ length: 256 }, (_, i) => `m${String(i).padStart(3, "0")}`);
  const cases: { comment: string; state: AccountState }[] = [
    { comment: "an account with nothing in it", state: EMPTY_ACCOUNT_STATE },
    {
      comment:
        "contacts verified, with a pending key change and plain; a direct chat read up to 41, a closed one, a group " +
        "we administer with its state, a group we were removed from by carol, a group with no accepted state yet",
      state: {
        displayName: "Ann",
        contacts: [
          { username: "bob", identity: ids[1]!, verified: true, pendingIdentity: null, displayName: "Bob" },
          { username: "carol", identity: ids[2]!, verified: false, pendingIdentity: ids[3]!, displayName: null },
          { username: "dave", identity: ids[3]!, verified: false, pendingIdentity: null, displayName: "Dave Ü." },
        ],
        chats: [
          chat({ id: 3, kind: "direct", peer: "bob", lastReadMsg: 41 }),
          chat({ id: 4, kind: "direct", peer: "carol", closed: true }),
          chat({
            id: 7,
            kind: "group",
            name: "team",
            myRole: "admin",
            lastReadMsg: 300,
            groupState: sign({
              chat: 7,
              epoch: 3,
              name: "team",
              members: ["ann", "bob", "dave"],
              admins: ["ann"],
              by: "ann",
              ts: TS,
            }),
          }),
          chat({
            id: 9,
            kind: "group",
            name: "old",
            departure: "removed",
            departedBy: "carol",
            groupState: sign({
              chat: 9,
              epoch: 1,
              name: "old",
              members: ["ann", "carol"],
              admins: ["ann"],
              by: "ann",
              ts: 0,
            }),
          }),
          chat({ id: 12, kind: "group" }),
        ],
      },
    },
    {
      comment:
        "edge values: the largest chat id and read position, a 64-byte display name, a 256-byte group name, a group " +
        "state of 256 members and an empty name signed by an admin who left, a chat we left",
      state: {
        displayName: "é".repeat(32),
        contacts: [],
        chats: [
          chat({ id: 0, kind: "group", departure: "left" }),
          chat({
            id: MAX,
            kind: "group",
            name: "g".repeat(256),
            lastReadMsg: MAX,
            groupState: sign({
              chat: MAX,
              epoch: 0xffffffff,
              name: "",
              members,
              admins: [members[0]!, members[255]!],
              by: "ann",
              ts: MAX,
            }),
          }),
        ],
      },
    },
  ];
  return cases;
}

function chat(c: Partial<AccountState["chats"][number]> & Pick<AccountState["chats"][number], "id" | "kind">) {
  return {
    peer: null,
    name: null,
    closed: false,
    myRole: "member" as const,
    departure: null,
    departedBy: null,
    lastReadMsg: 0,
    groupState: null,
    ...c,
  };
}

/** The snapshot as JSON, bytes as hex. */
function snapshotJson(s: AccountState): unknown {
  return {
    display_name: s.displayName,
    contacts: s.contacts.map((c) => ({
      username: c.username,
      identity: toHex(c.identity),
      verified: c.verified,
      pending_identity: c.pendingIdentity && toHex(c.pendingIdentity),
      display_name: c.displayName,
    })),
    chats: s.chats.map((c) => ({
      id: c.id,
      kind: c.kind,
      peer: c.peer,
      name: c.name,
      closed: c.closed,
      my_role: c.myRole,
      departure: c.departure,
      departed_by: c.departedBy,
      last_read_msg: c.lastReadMsg,
      group_state: c.groupState && {
        epoch: c.groupState.epoch,
        name: c.groupState.name,
        members: c.groupState.members,
        admins: c.groupState.admins,
        by: c.groupState.by,
        ts: c.groupState.ts,
        signature: toHex(c.groupState.signature),
      },
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// The layout of §17.6.1 written out again, for payloads the encoder refuses to produce.

const raw = {
  u8: (n: number) => Uint8Array.of(n),
  u64: (n: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, n, false);
    return b;
  },
  short: (s: string | Uint8Array) => {
    const b = typeof s === "string" ? utf8(s) : s;
    return concat(Uint8Array.of(b.length), b);
  },
  long: (s: string) => concat(u16be(utf8(s).length), utf8(s)),
  state: (name: Uint8Array, contacts: Uint8Array[], chats: Uint8Array[]) =>
    concat(raw.u8(1), name, u16be(contacts.length), ...contacts, u16be(chats.length), ...chats),
  contact: (username: string, identity: Uint8Array, flags = 0, pending?: Uint8Array, name = "") =>
    concat(raw.short(username), identity, raw.u8(flags), pending ?? new Uint8Array(0), raw.short(name)),
  /** A chat: id, kind byte, [peer], name, flags, departure, departed_by, last_read_msg, [group state]. */
  chat: (o: {
    id?: bigint;
    kind?: number;
    peer?: string;
    name?: string;
    flags?: number;
    departure?: number;
    by?: string;
    read?: bigint;
    state?: Uint8Array;
  }) =>
    concat(
      raw.u64(o.id ?? 1n),
      raw.u8(o.kind ?? 2),
      o.peer !== undefined ? raw.short(o.peer) : new Uint8Array(0),
      raw.long(o.name ?? ""),
      raw.u8(o.flags ?? 0),
      raw.u8(o.departure ?? 0),
      raw.short(o.by ?? ""),
      raw.u64(o.read ?? 0n),
      o.state ?? new Uint8Array(0),
    ),
  groupState: (o: { epoch?: number; members?: string[]; admins?: string[]; by?: string }) => {
    const names = (xs: string[]) => concat(u16be(xs.length), ...xs.map((x) => raw.short(x)));
    return concat(
      u32be(o.epoch ?? 1),
      raw.long("g"),
      names(o.members ?? ["ann", "bob"]),
      names(o.admins ?? ["ann"]),
      raw.short(o.by ?? "ann"),
      raw.u64(0n),
      new Uint8Array(64),
    );
  },
};

/** The malformed payloads, from the identities and the full snapshot's encoding: [comment, payload]. */
function malformed(ids: Ids, full: Uint8Array): [string, Uint8Array][] {
  const none = raw.u8(0);
  const c = (u: string, i = 1, flags = 0, pending?: Uint8Array, name = "") =>
    raw.contact(u, ids[i]!, flags, pending, name);
  const badIdentity = ids[1]!.slice();
  badIdentity[127]! ^= 1;
  const st = (chats: Uint8Array[]) => raw.state(none, [], chats);
  return [
    ["format 0", concat(raw.u8(0), full.subarray(1))],
    ["format 2", concat(raw.u8(2), full.subarray(1))],
    ["format 255, nothing else", raw.u8(0xff)],
    ["truncated by one byte", full.subarray(0, full.length - 1)],
    ["a trailing byte", concat(full, raw.u8(0))],
    ["only the format byte", raw.u8(1)],
    ["own display name with an escape character", raw.state(raw.short("a\u001bb"), [], [])],
    ["own display name of 65 bytes", raw.state(raw.short("a".repeat(65)), [], [])],
    ["own display name not UTF-8", raw.state(raw.short(Uint8Array.of(0xc3, 0x28)), [], [])],
    ["contacts out of order", raw.state(none, [c("carol"), c("bob")], [])],
    ["the same contact twice", raw.state(none, [c("bob"), c("bob")], [])],
    ["a contact name with an uppercase letter", raw.state(none, [c("Bob")], [])],
    ["a contact flag bit that is not defined", raw.state(none, [c("bob", 1, 0x04)], [])],
    ["a contact identity whose dh-key signature fails", raw.state(none, [raw.contact("bob", badIdentity)], [])],
    ["a pending identity equal to the pinned one", raw.state(none, [c("bob", 1, 0x02, ids[1])], [])],
    ["a contact cut inside its pending identity", raw.state(none, [c("bob", 1, 0x02)], [])],
    ["chats out of order", st([raw.chat({ id: 5n }), raw.chat({ id: 4n })])],
    ["the same chat twice", st([raw.chat({ id: 5n }), raw.chat({ id: 5n })])],
    ["a chat id of 2^53", st([raw.chat({ id: 2n ** 53n })])],
    ["a read position of 2^53", st([raw.chat({ read: 2n ** 53n })])],
    ["chat kind 3", st([raw.chat({ kind: 3 })])],
    ["a direct chat whose peer is not a username", st([raw.chat({ kind: 1, peer: "b" })])],
    ["a direct chat with a departure", st([raw.chat({ kind: 1, peer: "bob", departure: 1 })])],
    ["a direct chat with the group-state flag", st([raw.chat({ kind: 1, peer: "bob", flags: 0x04 })])],
    ["a chat flag bit that is not defined", st([raw.chat({ flags: 0x08 })])],
    ["departure 3", st([raw.chat({ departure: 3 })])],
    ["departed_by without a departure", st([raw.chat({ by: "carol" })])],
    ["a chat name of 257 bytes", st([raw.chat({ name: "g".repeat(257) })])],
    ["a chat name of only spaces", st([raw.chat({ name: "   " })])],
    ["a chat name with a bidi override", st([raw.chat({ name: "a\u202eb" })])],
    ["group state: epoch 0", st([raw.chat({ flags: 0x04, state: raw.groupState({ epoch: 0 }) })])],
    [
      "group state: members out of order",
      st([raw.chat({ flags: 0x04, state: raw.groupState({ members: ["bob", "ann"] }) })]),
    ],
    ["group state: no members", st([raw.chat({ flags: 0x04, state: raw.groupState({ members: [], admins: [] }) })])],
    [
      "group state: an admin who is not a member",
      st([raw.chat({ flags: 0x04, state: raw.groupState({ admins: ["carol"] }) })]),
    ],
    ["group state: signer not a username", st([raw.chat({ flags: 0x04, state: raw.groupState({ by: "A" }) })])],
    ["group state: the flag without the state", st([raw.chat({ flags: 0x04 })])],
  ];
}

function malformedCase([comment, payload]: [string, Uint8Array]): Record<string, unknown> {
  try {
    decodeAccountState(payload);
  } catch (e) {
    if (e instanceof AccountStateError) return { comment, payload: toHex(payload), reason: e.reason, error: e.message };
    throw e;
  }
  // The table holds only payloads that must be refused: one that decodes is a broken decoder.
  return { comment, payload: toHex(payload), reason: null, error: null };
}

/** The account-state vector suite (SECURITY.md §17.6.1). */
export const accountStateVectors: VectorSuite = {
  file: FILE,

  /** Recomputes account-state.json from its identities. Throws CodecError naming a missing or malformed input. */
  recompute(file: unknown) {
    const f = new Inputs(file, FILE);
    const inputs = f.list("identities");
    if (inputs.length !== 4) throw new CodecError(`${FILE}.identities: must hold 4 identities`);
    const pairs = inputs.map((i) => identityFromSecrets(i.hex("signing_seed", 32), i.x25519Private("dh_private")));
    const ids = pairs.map((p) => encodeIdentityPublic(p.publicKey));
    const cases = snapshots(ids, (s) => signGroupState(pairs[0]!, s)).map(({ comment, state }) => {
      const encoding = encodeAccountState(state);
      return { comment, snapshot: snapshotJson(decodeAccountState(encoding)), encoding: toHex(encoding) };
    });
    return {
      suite: "account-state",
      description: DESCRIPTION,
      spec: "SECURITY.md §17.6.1 (the account-state snapshot)",
      identities: inputs.map((i, n) => ({
        signing_seed: toHex(i.hex("signing_seed", 32)),
        dh_private: toHex(i.x25519Private("dh_private")),
        identity_public: toHex(ids[n]!),
      })),
      snapshots: cases,
      empty: { payload: "", snapshot: snapshotJson(decodeAccountState(new Uint8Array(0))) },
      malformed: malformed(ids, encodeAccountState(snapshots(ids, (s) => signGroupState(pairs[0]!, s))[1]!.state)).map(
        malformedCase,
      ),
    };
  },

  /** The identities, drawn from seededRng("SMSG-v1 vectors account state"). */
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors account state"));
    return this.recompute({
      identities: Array.from({ length: 4 }, () => ({
        signing_seed: toHex(rng(32)),
        dh_private: toHex(clamp(rng(32))),
      })),
    });
  },
};
