/**
 * The account-state snapshot codec (SECURITY.md §17.6.1): the committed vectors, round trips of
 * random snapshots, canonical form (no second encoding of any snapshot decodes), every refusal
 * an AccountStateError, and the size limit on both sides.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../../../crypto/bytes.js";
import {
  type AccountState,
  type AccountStateChat,
  AccountStateError,
  AccountStateTooLargeError,
  EMPTY_ACCOUNT_STATE,
  MAX_ACCOUNT_STATE_BYTES,
  decodeAccountState,
  encodeAccountState,
} from "../../../client/protocol/account-state.js";
import { accountStateVectors } from "../../../client/protocol/account-state-vectors.js";
import { signGroupState } from "../../../client/protocol/group-state.js";
import { IDS, PUBS, snapshotArb } from "./account-state-arbitrary.js";
import { CodecError, UsageError } from "../../../src/errors.js";

const VECTOR_FILE = join(import.meta.dirname, "..", "..", "vectors", "account-state.json");
const VECTORS = JSON.parse(readFileSync(VECTOR_FILE, "utf8")) as {
  snapshots: { comment: string; encoding: string }[];
  malformed: { comment: string; payload: string; reason: string; error: string }[];
};

describe("account-state vectors (test/vectors/account-state.json)", () => {
  it("the committed file is what the generator writes", () => {
    const committed = JSON.parse(readFileSync(VECTOR_FILE, "utf8"));
    expect(accountStateVectors.generate()).toEqual(committed);
  });

  it("every snapshot decodes and encodes back to the same bytes", () => {
    expect(VECTORS.snapshots.length).toBe(3);
    for (const s of VECTORS.snapshots) {
      const bytes = fromHex(s.encoding);
      expect(toHex(encodeAccountState(decodeAccountState(bytes))), s.comment).toBe(s.encoding);
    }
  });

  it("every malformed payload is refused with the file's reason and text", () => {
    expect(VECTORS.malformed.length).toBeGreaterThanOrEqual(30);
    for (const m of VECTORS.malformed) {
      const err = (() => {
        try {
          decodeAccountState(fromHex(m.payload));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, m.comment).toBeInstanceOf(AccountStateError);
      expect((err as AccountStateError).reason, m.comment).toBe(m.reason);
      expect((err as AccountStateError).message, m.comment).toBe(m.error);
      expect((err as AccountStateError).code).toBe("CODEC");
    }
  });
});

describe("encodeAccountState / decodeAccountState", () => {
  it("an empty state is the empty snapshot; the encoder writes the empty snapshot as 6 bytes", () => {
    expect(decodeAccountState(new Uint8Array(0))).toEqual(EMPTY_ACCOUNT_STATE);
    expect(toHex(encodeAccountState(EMPTY_ACCOUNT_STATE))).toBe("010000000000");
  });

  it("round trip: decode(encode(s)) = s for random snapshots", () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const bytes = encodeAccountState(s);
        expect(decodeAccountState(bytes)).toEqual(s);
      }),
      { numRuns: 200 },
    );
  });

  it("canonical: any changed, cut or extended encoding is refused, or is the encoding of what it decodes to (empty aside)", () => {
    fc.assert(
      fc.property(
        snapshotArb,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom("flip", "cut", "add"),
        (s, at, byte, how) => {
          const good = encodeAccountState(s);
          const i = at % good.length;
          const bad =
            how === "flip"
              ? Uint8Array.from(good, (b, j) => (j === i ? b ^ (byte | 1) : b))
              : how === "cut"
                ? good.subarray(0, i)
                : Uint8Array.from([...good.subarray(0, i), byte, ...good.subarray(i)]);
          let decoded: AccountState;
          try {
            decoded = decodeAccountState(bad);
          } catch (e) {
            expect(e).toBeInstanceOf(AccountStateError);
            return;
          }
          // The one form the encoder never writes: the empty state of clients before §17.6.1.
          if (bad.length === 0) expect(decoded).toEqual(EMPTY_ACCOUNT_STATE);
          else expect(toHex(encodeAccountState(decoded))).toBe(toHex(bad));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never throws anything but AccountStateError for arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
        const bytes = Uint8Array.from([1, ...tail]);
        try {
          const s = decodeAccountState(bytes);
          expect(toHex(encodeAccountState(s))).toBe(toHex(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(AccountStateError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("refuses a state over 61 440 bytes before reading it; accepts the limit itself", () => {
    const over = new Uint8Array(MAX_ACCOUNT_STATE_BYTES + 1);
    over[0] = 1;
    expect(() => decodeAccountState(over)).toThrow(expect.objectContaining({ reason: "too_large" }));
    // A snapshot of exactly the limit: 6 bytes, then direct chats of 26 + len(name) bytes each.
    const direct = (id: number, nameBytes: number): AccountStateChat => ({
      id,
      kind: "direct",
      peer: "bob",
      name: "n".repeat(nameBytes),
      closed: false,
      myRole: "member",
      departure: null,
      departedBy: null,
      lastReadMsg: 0,
      groupState: null,
    });
    const chats = [...Array.from({ length: 217 }, (_, i) => direct(i, 256)), direct(217, 214)];
    const exact = encodeAccountState({ ...EMPTY_ACCOUNT_STATE, chats });
    expect(exact.length).toBe(MAX_ACCOUNT_STATE_BYTES);
    expect(decodeAccountState(exact).chats).toHaveLength(218);
    const oneMore = [...chats.slice(0, 217), direct(217, 215)];
    expect(() => encodeAccountState({ ...EMPTY_ACCOUNT_STATE, chats: oneMore })).toThrow(AccountStateTooLargeError);
  });

  it("the encoder refuses a snapshot over the limit with AccountStateTooLargeError and its size", () => {
    const members = Array.from({ length: 256 }, (_, i) => `${"m".repeat(29)}${String(i).padStart(3, "0")}`);
    const chats: AccountStateChat[] = Array.from({ length: 4 }, (_, i) => ({
      id: i,
      kind: "group",
      peer: null,
      name: null,
      closed: false,
      myRole: "member",
      departure: null,
      departedBy: null,
      lastReadMsg: 0,
      groupState: signGroupState(IDS[0]!, {
        chat: i,
        epoch: 1,
        name: "g".repeat(256),
        members,
        admins: members,
        by: members[0]!,
        ts: 0,
      }),
    }));
    const e = (() => {
      try {
        encodeAccountState({ displayName: null, contacts: [], chats });
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(AccountStateTooLargeError);
    expect((e as AccountStateTooLargeError).bytes).toBeGreaterThan(MAX_ACCOUNT_STATE_BYTES);
    expect((e as AccountStateTooLargeError).code).toBe("LIMIT");
    expect(encodeAccountState({ displayName: null, contacts: [], chats: chats.slice(0, 3) }).length).toBeLessThan(
      MAX_ACCOUNT_STATE_BYTES,
    );
  });

  it("the encoder refuses what the decoder would refuse (UsageError), never writing it", () => {
    const c = { username: "bob", identity: PUBS[1]!, verified: false, pendingIdentity: null, displayName: null };
    const chat: AccountStateChat = {
      id: 1,
      kind: "direct",
      peer: "bob",
      name: null,
      closed: false,
      myRole: "member",
      departure: null,
      departedBy: null,
      lastReadMsg: 0,
      groupState: null,
    };
    const bad: AccountState[] = [
      { ...EMPTY_ACCOUNT_STATE, displayName: "" },
      { ...EMPTY_ACCOUNT_STATE, contacts: [c, c] },
      { ...EMPTY_ACCOUNT_STATE, contacts: [{ ...c, username: "Bob" }] },
      { ...EMPTY_ACCOUNT_STATE, contacts: [{ ...c, pendingIdentity: PUBS[1]! }] },
      { ...EMPTY_ACCOUNT_STATE, contacts: [{ ...c, identity: new Uint8Array(127) }] },
      { ...EMPTY_ACCOUNT_STATE, chats: [chat, chat] },
      { ...EMPTY_ACCOUNT_STATE, chats: [{ ...chat, departure: "left" }] },
      { ...EMPTY_ACCOUNT_STATE, chats: [{ ...chat, kind: "group" }] },
      { ...EMPTY_ACCOUNT_STATE, chats: [{ ...chat, name: " " }] },
      { ...EMPTY_ACCOUNT_STATE, chats: [{ ...chat, id: -1 }] },
      { ...EMPTY_ACCOUNT_STATE, chats: [{ ...chat, lastReadMsg: 2 ** 53 }] },
    ];
    for (const s of bad) expect(() => encodeAccountState(s)).toThrow(UsageError);
  });

  it("a contact key whose §4.1 signature fails is refused (the snapshot pins nothing unverifiable)", () => {
    const s: AccountState = {
      ...EMPTY_ACCOUNT_STATE,
      contacts: [{ username: "bob", identity: PUBS[1]!, verified: true, pendingIdentity: null, displayName: null }],
    };
    const bytes = encodeAccountState(s);
    bytes[1 + 1 + 2 + 1 + 3 + 100]! ^= 0x40; // inside the dh-key signature
    expect(() => decodeAccountState(bytes)).toThrow(CodecError);
  });
});
