/**
 * Random valid account-state snapshots (SECURITY.md §17.6.1) for property tests: contacts pinned
 * to four fixed identities, chats of both kinds, groups with signed states.
 */
import fc from "fast-check";
import { utf8 } from "../../../crypto/bytes.js";
import { encodeIdentityPublic, generateIdentity, type IdentityKeyPair } from "../../../crypto/identity.js";
import { seededRng } from "../../../crypto/rng.js";
import type { AccountState, AccountStateChat } from "../../../client/protocol/account-state.js";
import { signGroupState } from "../../../client/protocol/group-state.js";

const rng = seededRng(utf8("account-state test identities"));
/** The identities contacts are pinned to; IDS[0] signs the group states. */
export const IDS: IdentityKeyPair[] = Array.from({ length: 4 }, () => generateIdentity(rng));
/** Their IdentityPublic encodings. */
export const PUBS = IDS.map((i) => encodeIdentityPublic(i.publicKey));

/** Random valid snapshots: contacts from PUBS, chats of both kinds, some with signed group states. */
const username = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{2,8}$/);
const label = (max: number) =>
  fc.string({ unit: "grapheme", minLength: 1, maxLength: max }).filter((s) => {
    const b = Buffer.byteLength(s, "utf8");
    return b >= 1 && b <= max && !/[\p{Cc}\u202a-\u202e\u2066-\u2069]|\p{Cs}/u.test(s) && s.trim() !== "";
  });
const uint53 = fc.oneof(fc.constantFrom(0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.maxSafeNat());

const contactArb = fc.record({
  username,
  id: fc.nat({ max: 3 }),
  pending: fc.option(fc.nat({ max: 3 }), { nil: undefined }),
  verified: fc.boolean(),
  displayName: fc.option(label(64), { nil: null }),
});

const chatArb = fc.record({
  id: uint53,
  direct: fc.boolean(),
  peer: username,
  name: fc.option(label(40), { nil: null }),
  closed: fc.boolean(),
  admin: fc.boolean(),
  departure: fc.constantFrom(null, "left" as const, "removed" as const),
  departedBy: fc.option(username, { nil: null }),
  lastReadMsg: uint53,
  state: fc.option(
    fc.record({
      epoch: fc.integer({ min: 1, max: 0xffffffff }),
      name: fc.oneof(fc.constant(""), label(30)),
      members: fc.uniqueArray(username, { minLength: 1, maxLength: 6 }),
      ts: uint53,
    }),
    { nil: null },
  ),
});

/** A random valid snapshot. */
export const snapshotArb: fc.Arbitrary<AccountState> = fc
  .record({
    displayName: fc.option(label(64), { nil: null }),
    contacts: fc.uniqueArray(contactArb, { selector: (c) => c.username, maxLength: 8 }),
    chats: fc.uniqueArray(chatArb, { selector: (c) => c.id, maxLength: 8 }),
  })
  .map(({ displayName, contacts, chats }) => ({
    displayName,
    contacts: [...contacts]
      .sort((a, b) => (a.username < b.username ? -1 : 1))
      .map((c) => ({
        username: c.username,
        identity: PUBS[c.id]!,
        verified: c.verified,
        pendingIdentity: c.pending === undefined || c.pending === c.id ? null : PUBS[c.pending]!,
        displayName: c.displayName,
      })),
    chats: [...chats]
      .sort((a, b) => a.id - b.id)
      .map((c): AccountStateChat => {
        const group = !c.direct;
        const departure = group ? c.departure : null;
        return {
          id: c.id,
          kind: group ? "group" : "direct",
          peer: group ? null : c.peer,
          name: c.name,
          closed: c.closed,
          myRole: c.admin ? "admin" : "member",
          departure,
          departedBy: departure === null ? null : c.departedBy,
          lastReadMsg: c.lastReadMsg,
          groupState:
            group && c.state
              ? signGroupState(IDS[0]!, {
                  chat: c.id,
                  epoch: c.state.epoch,
                  name: c.state.name,
                  members: c.state.members,
                  admins: [c.state.members[0]!],
                  by: c.state.members[0]!,
                  ts: c.state.ts,
                })
              : null,
        };
      }),
  }));
